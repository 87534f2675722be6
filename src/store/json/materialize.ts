/**
 * The documented files (docs/storage.md), written from a log's state: one
 * file per task and the index `tasks.json`, one inbox file per agent (recent
 * messages, read and unread) and its archive of older read ones, the numbered
 * `events.jsonl`, one file per document collection. They are derived data:
 * written with atomic renames but without fsync, at most every FLUSH_MS per
 * team while changes come in, so that a burst of operations costs one rewrite
 * per file instead of one per operation. Readers inside clanker-teams use the
 * log, never these files.
 *
 * Two of them are also history: `events.jsonl` and the archives keep what the
 * snapshots leave out. Before a snapshot is written they are synced.
 */
import fs from "node:fs";
import path from "node:path";
import type { Message, TeamEvent } from "../../schemas.js";
import { APPEND_CREATE, ensureDir, fileSize, openFile, READ, readBytes, readJson, writeAll, writeAtomic } from "./files.js";
import type { Layout } from "./layout.js";
import type { TeamState } from "./state.js";

/** Read messages an inbox file keeps; older read ones move to the archive. */
export const KEEP_READ = 200;
/** Materialize a team's files at most this often while changes come in. */
export const FLUSH_MS = 100;

export interface MaterializedMark { lsn: number; at: number }

export function readMark(layout: Layout, team: string): MaterializedMark | undefined {
  try {
    const m = readJson<MaterializedMark>(layout.materialized(team));
    return m && Number.isInteger(m.lsn) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** How many of an inbox's oldest messages belong in the archive: the longest all-read prefix that leaves KEEP_READ read ones. */
export function archivable(msgs: Message[]): number {
  let read = 0;
  for (const m of msgs) if (m.read) read++;
  let k = 0;
  while (k < msgs.length && msgs[k].read && read - k > KEEP_READ) k++;
  return k;
}

/**
 * Writes what changed since the last mark (everything with `all`), then the
 * mark. Caller holds the materialize lock and has caught the state up.
 * `durable`: fsync the history files (events, archives), for a snapshot.
 * Returns, per inbox, how many of its oldest messages are in its archive file.
 */
export function materialize(root: string, layout: Layout, team: string, st: TeamState, now: number, opts: { all?: boolean; durable?: boolean } = {}): Map<string, number> {
  const mark = readMark(layout, team);
  const since = opts.all || !mark ? -1 : mark.lsn;
  const archived = new Map<string, number>();
  // Tasks.
  let anyTask = false;
  for (const [id, e] of st.tasks) {
    if (e.v <= since) continue;
    writeAtomic(root, layout.taskFile(team, id), JSON.stringify(e.task, null, 2) + "\n");
    anyTask = true;
  }
  if (anyTask || since < 0) {
    const rows: Record<string, unknown> = Object.create(null);
    for (const [id, e] of st.tasks) rows[id] = e.row;
    writeAtomic(root, layout.taskIndex(team), JSON.stringify({ nextId: st.nextId, tasks: rows }) + "\n");
  }
  // Inboxes and archives.
  for (const [agent, b] of st.inboxes) {
    const k = archivable(b.msgs);
    if (b.v > since || opts.all) {
      const done = archiveUpTo(root, layout, team, agent, b.msgs, k, opts.durable === true);
      writeAtomic(root, layout.inbox(team, agent), JSON.stringify({ messages: b.msgs.slice(done) }, null, 2) + "\n");
      archived.set(agent, done);
    }
  }
  // Documents.
  for (const [coll, m] of st.docs) {
    let changed = since < 0;
    for (const e of m.values()) if (e.v > since) changed = true;
    if (!changed) continue;
    const o: Record<string, unknown> = Object.create(null);
    for (const [k, e] of m) if (e.value !== undefined) o[k] = e.value;
    writeAtomic(root, layout.docFile(team, coll), JSON.stringify(o, null, 2) + "\n");
  }
  appendEvents(root, layout.events(team), st, opts.durable === true);
  writeAtomic(root, layout.materialized(team), JSON.stringify({ lsn: st.lsn, at: now } satisfies MaterializedMark) + "\n");
  return archived;
}

/**
 * Appends msgs[done..k) to the archive, where `done` is how far the archive
 * file already goes (found by its last message id). Returns k (or `done` if
 * that is further). A torn last line (a crash mid-append) is cut off first.
 */
function archiveUpTo(root: string, layout: Layout, team: string, agent: string, msgs: Message[], k: number, durable: boolean): number {
  const file = layout.archive(team, agent);
  const last = lastLine(file);
  let done = 0;
  if (last) {
    const lastId = (last.value as { id?: unknown }).id;
    const i = msgs.findIndex((m) => m.id === lastId);
    // Not found: the state starts after the archived ones (a snapshot left them out).
    done = i >= 0 ? i + 1 : 0;
  }
  if (k <= done) return done;
  ensureDir(root, path.dirname(file));
  const fd = openFile(file, APPEND_CREATE);
  try {
    if (last?.tornAt !== undefined) fs.ftruncateSync(fd, last.tornAt);
    writeAll(fd, Buffer.from(msgs.slice(done, k).map((m) => JSON.stringify(m) + "\n").join(""), "utf8"));
    if (durable) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return k;
}

/** Appends the events the file lacks (seq past its last line), from the state's memory. */
function appendEvents(root: string, file: string, st: TeamState, durable: boolean): void {
  const last = lastLine(file);
  const lastSeq = typeof (last?.value as { seq?: unknown } | undefined)?.seq === "number" ? (last!.value as TeamEvent).seq : 0;
  if (st.eventSeq <= lastSeq && last?.tornAt === undefined) {
    if (durable && fileSize(file) > 0) syncFile(file);
    return;
  }
  const evs = st.eventsAfter(lastSeq);
  ensureDir(root, path.dirname(file));
  const fd = openFile(file, APPEND_CREATE);
  try {
    if (last?.tornAt !== undefined) fs.ftruncateSync(fd, last.tornAt);
    if (evs.length) writeAll(fd, Buffer.from(evs.map((e) => JSON.stringify(e) + "\n").join(""), "utf8"));
    if (durable) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function syncFile(file: string): void {
  const fd = openFile(file, READ);
  try { fs.fdatasyncSync(fd); } finally { fs.closeSync(fd); }
}

/** The last complete JSON line of a file, and where a torn tail starts (to cut). */
export function lastLine(file: string): { value: unknown; tornAt?: number } | undefined {
  let fd: number;
  try {
    fd = openFile(file, READ);
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (!size) return undefined;
    for (let chunk = 64 * 1024; ; chunk *= 4) {
      const start = Math.max(0, size - chunk);
      const buf = readBytes(fd, size - start, start);
      let end = buf.length;
      let tornAt: number | undefined;
      if (buf[end - 1] !== 0x0a) {
        const nl = buf.lastIndexOf(0x0a);
        if (nl < 0 && start > 0) continue;
        tornAt = start + nl + 1;
        end = nl + 1;
      }
      // Walk back over lines until one parses (skipping bad ones).
      let stop = end - 1;
      while (stop > 0) {
        const nl = buf.lastIndexOf(0x0a, stop - 1);
        if (nl < 0 && start > 0) break;
        const line = buf.toString("utf8", nl + 1, stop);
        stop = nl;
        if (!line.trim()) { if (nl < 0) break; continue; }
        try {
          return { value: JSON.parse(line), tornAt };
        } catch { /* a bad line: try the one before */ }
        if (nl < 0) break;
      }
      if (start === 0) return tornAt === undefined ? undefined : { value: undefined, tornAt };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Every line of an archive (or events) file that parses, in order. */
export function readJsonLines<T>(file: string): T[] {
  let fd: number;
  try {
    fd = openFile(file, READ);
  } catch {
    return [];
  }
  try {
    const buf = readBytes(fd, fs.fstatSync(fd).size, 0);
    const out: T[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl > start) {
        try { out.push(JSON.parse(buf.toString("utf8", start, nl)) as T); } catch { /* torn */ }
      }
      start = nl + 1;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
