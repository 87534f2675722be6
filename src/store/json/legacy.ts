/**
 * Data directories written before the log existed: a team with a config but
 * no `wal/` is imported once, under the materialize lock, into a snapshot at
 * the start of its first segment: task files (and a pending transaction's
 * temp files), inboxes with their unread spools, the event log's last seq
 * (and events still queued). Then the files only the old format used are
 * removed; task files, inboxes, archives and events.jsonl stay as they are.
 * Timestamps that were epoch numbers become ISO strings.
 */
import fs from "node:fs";
import path from "node:path";
import type { Message, Task } from "../../schemas.js";
import { CREATE_NEW, ensureDir, openFile, readText, removeTree, syncDir, writeAtomic } from "./files.js";
import { lastLine, readJsonLines } from "./materialize.js";
import type { Layout } from "./layout.js";
import { tryLockSync } from "./lock.js";
import type { SnapshotFile, TeamLog } from "./log.js";
import { TeamState } from "./state.js";

interface Host { root: string; layout: Layout }

const TASK_FILE = /^task_([1-9][0-9]{0,9})\.json(?:\..*)?$/;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** ISO string for an epoch number (old files); strings are kept. */
export function isoTime(v: unknown): unknown {
  return typeof v === "number" && Number.isFinite(v) ? new Date(v).toISOString() : v;
}

function upgradeTask(t: Task): Task {
  for (const k of ["createdAt", "updatedAt", "claimedAt", "completedAt"] as const) {
    if (t[k] !== undefined) (t as Record<string, unknown>)[k] = isoTime(t[k]);
  }
  return t;
}

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try { return JSON.parse(text) as T; } catch { return undefined; }
}

/** Imports a team of the old format (see the file comment). Safe to call from several processes at once. */
export function importLegacy(host: Host, log: TeamLog): void {
  const { layout, root } = host;
  const team = log.team;
  if (!fs.existsSync(layout.teamConfig(team))) return;
  ensureDir(root, layout.teamDir(team));
  for (let i = 0; i < 2000; i++) {
    const r = tryLockSync(root, layout.materializeLock(team), () => {
      if (fs.existsSync(layout.walDir(team))) return true;
      importLocked(host, team);
      return true;
    });
    if (r) return;
    Atomics.wait(sleeper, 0, 0, 5);
  }
}

function importLocked(host: Host, team: string): void {
  const { layout, root } = host;
  const st = new TeamState();
  // Tasks: every task file; a pending transaction's temp files win (it had passed its commit point).
  const tdir = layout.tasksDir(team);
  let names: string[] = [];
  try { names = fs.readdirSync(tdir); } catch { /* no tasks */ }
  const intent = parse<{ writes?: Array<{ id: string; tmp: string }> }>(readText(path.join(tdir, "tx.json")));
  const fromTx = new Map<string, string>();
  for (const w of intent?.writes ?? []) if (typeof w?.id === "string" && typeof w?.tmp === "string" && !w.tmp.includes("/")) fromTx.set(w.id, w.tmp);
  // Any file naming an id (task, temp, reservation, corrupt copy) burns it: ids are never reused.
  let maxId = 0;
  const ids = new Set<string>();
  for (const n of names) {
    const m = TASK_FILE.exec(n);
    if (m) { maxId = Math.max(maxId, Number(m[1])); ids.add(m[1]); }
  }
  for (const id of [...ids].sort((a, b) => Number(a) - Number(b))) {
    const tmp = fromTx.get(id);
    const t = parse<Task>(tmp ? readText(path.join(tdir, tmp)) : undefined) ?? parse<Task>(readText(layout.taskFile(team, id)));
    if (!t || typeof t.id !== "string" || typeof t.subject !== "string") continue;
    st.tasks.set(t.id, { v: 0, task: upgradeTask(t), row: { id: t.id, subject: t.subject, status: t.status, blockedBy: t.blockedBy ?? [], blocks: t.blocks ?? [], createdAt: t.createdAt, ...(t.owner ? { owner: t.owner } : {}) } });
  }
  const index = parse<{ nextId?: number }>(readText(layout.taskIndex(team)));
  st.nextId = Math.max(maxId + 1, Number.isInteger(index?.nextId) ? index!.nextId! : 1, 1);
  // Inboxes: the inbox file, then the taken spool, then the spool (duplicates dropped by id).
  const mdir = layout.messagesDir(team);
  let mnames: string[] = [];
  try { mnames = fs.readdirSync(mdir); } catch { /* no mail */ }
  const agents = new Set<string>();
  for (const n of mnames) {
    const m = /^(.+?)(?:\.spool(?:\.taking)?\.jsonl|\.json)$/.exec(n);
    if (m && m[1] !== "index") agents.add(m[1]);
  }
  for (const agent of agents) {
    let msgs: Message[] = [];
    try {
      const inbox = parse<{ messages?: Message[] }>(readText(layout.inbox(team, agent)));
      msgs = Array.isArray(inbox?.messages) ? inbox!.messages : [];
      msgs.push(...readJsonLines<Message>(layout.legacySpoolTaking(team, agent)), ...readJsonLines<Message>(layout.legacySpool(team, agent)));
    } catch { continue; } // a name the validator refuses now: leave its files alone
    const seen = new Set<string>();
    const kept = msgs.filter((m) => m && typeof m.id === "string" && typeof m.content === "string" && !seen.has(m.id) && (seen.add(m.id), true));
    if (kept.length) st.inboxes.set(agent, { v: 0, msgs: kept, unread: kept.filter((m) => !m.read).length });
  }
  // Events: the log's last seq, then whatever was still queued, numbered now.
  const events = layout.events(team);
  const last = lastLine(events);
  let seq = typeof (last?.value as { seq?: unknown })?.seq === "number" ? (last!.value as { seq: number }).seq : 0;
  const queued = [...readJsonLines<Record<string, unknown>>(path.join(layout.teamDir(team), "events.taking.jsonl")), ...readJsonLines<Record<string, unknown>>(path.join(layout.teamDir(team), "events.pending.jsonl"))]
    .filter((e) => typeof e?.kind === "string" && typeof e?.id === "string");
  if (queued.length || last?.tornAt !== undefined) {
    const fd = openFile(events, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND | (fs.constants.O_NOFOLLOW ?? 0));
    try {
      if (last?.tornAt !== undefined) fs.ftruncateSync(fd, last.tornAt);
      const text = queued.map((e) => JSON.stringify({ seq: ++seq, time: e.time, actor: e.actor, kind: e.kind, data: e.data ?? {}, id: e.id }) + "\n").join("");
      fs.writeSync(fd, text);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  st.eventSeq = seq;
  st.firstSeq = seq + 1;
  // The snapshot and the first segment: from here on the team has a log.
  const wal = layout.walDir(team);
  const tmpWal = `${wal}.import-${process.pid}`;
  removeTree(tmpWal);
  fs.mkdirSync(tmpWal, { mode: 0o700 });
  const snap: SnapshotFile = { format: 1, seg: 1, pos: 0, state: st.toSnapshot((_, m) => m) };
  writeAtomic(root, path.join(tmpWal, "snapshot-000001.json"), JSON.stringify(snap), { durable: true });
  const fd = openFile(path.join(tmpWal, "000001.jsonl"), CREATE_NEW);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  syncDir(tmpWal);
  fs.renameSync(tmpWal, wal);
  syncDir(layout.teamDir(team));
  // Files only the old format used.
  for (const agent of agents) {
    for (const f of [layout.legacySpool(team, agent), layout.legacySpoolTaking(team, agent)]) try { fs.unlinkSync(f); } catch { /* none */ }
  }
  for (const f of ["tasks.log.jsonl", "ids.tickets", "tx.json"]) try { fs.unlinkSync(path.join(tdir, f)); } catch { /* none */ }
  for (const n of names) if (/\.tmp$/.test(n)) try { fs.unlinkSync(path.join(tdir, n)); } catch { /* gone */ }
  removeTree(path.join(tdir, "locks"));
  for (const f of ["events.pending.jsonl", "events.taking.jsonl"]) try { fs.unlinkSync(path.join(layout.teamDir(team), f)); } catch { /* none */ }
  try { fs.unlinkSync(path.join(mdir, "index.json")); } catch { /* none */ }
}
