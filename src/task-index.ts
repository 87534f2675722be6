/**
 * The task index that task_list reads: `tasks.json`, a snapshot, plus
 * `tasks.log.jsonl`, the index changes since that snapshot, one JSON line
 * each. Writers never rewrite the index: holding only their task's lock, they
 * append a `pending` line before replacing a task file and a `row` line after
 * it (one O_APPEND write each, no team lock). When the log has grown past
 * COMPACT_BYTES, the writer that crossed the mark folds it into a new snapshot
 * under the team lock (the lock of tasks.json), starting a new log.
 *
 * Task files stay the source of truth: a reader re-reads from the files every
 * task that has a pending line without a later row (a writer in flight or
 * killed), every id below nextId without a row and any file past nextId (a
 * creator killed after its rename); a missing or corrupt snapshot, or a log
 * that does not belong to it, is rebuilt from the task files.
 *
 * Readers cache the parsed state per process and read only the log's new
 * bytes, so a read costs a stat, a small read and the work on new lines.
 * Format: docs/storage.md, "Tasks".
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import lockfile from "proper-lockfile";
import type { Ctx } from "./context.js";
import { TeamsError } from "./errors.js";
import { TaskIndexSchema, TaskSchema, parseWith, type Task, type TaskIndex, type TaskLogLine, type TaskSummary } from "./schemas.js";
import { ensureDir, ioError, moveAside, openInDir, parseJsonl, readText, writeFileAtomic } from "./store/json-file.js";
import { readBytes, writeAll as writeBytes } from "./store/handoff.js";
import { STALE_MS, WAIT_MS, lockHeld, withLock } from "./store/lock.js";

/** Fold the log into a new snapshot once this many bytes were appended since the last one (tests set it low). */
export const COMPACT_BYTES = Number(process.env.CLANKER_TEAMS_TASK_LOG_BYTES) || 64 * 1024;

/** What the index shows of a task. */
export function summaryOf(t: Task): TaskSummary {
  const s: TaskSummary = { id: t.id, subject: t.subject, status: t.status, blockedBy: t.blockedBy, blocks: t.blocks, createdAt: t.createdAt };
  if (t.owner) s.owner = t.owner;
  return s;
}

/** True when the index rows of two tasks differ (so the change must reach the index). */
export function rowChanged(a: TaskSummary | undefined, b: TaskSummary): boolean {
  return !a || a.subject !== b.subject || a.status !== b.status || a.owner !== b.owner || a.createdAt !== b.createdAt
    || a.blockedBy.join() !== b.blockedBy.join() || a.blocks.join() !== b.blocks.join();
}

// ---------------------------------------------------------------------------
// Task files

/**
 * What a task's lock is taken on: `locks/task_<id>` (lock directory
 * `locks/task_<id>.lock`), so that lock directories are made and removed
 * in a directory of their own. Every create, rename and unlink in a
 * directory queues on that directory's lock, and making an inode can be slow
 * under churn (ext4 skips recently freed ones); measured: the creates'
 * reservation step took 4 ms (p50) instead of 8-17 ms with lock directories
 * beside the task files.
 */
export function taskLockPath(ctx: Ctx, team: string, id: string): string {
  return ctx.paths.taskLock(team, id);
}

export interface TaskRead { task: Task; raw: string }

/**
 * Reads a task file with its raw text (for compare-before-rename). A file that
 * does not parse is moved aside and reported, as readJson does.
 */
export function readTaskFile(file: string): TaskRead | undefined {
  const raw = readText(file);
  if (raw === undefined) return undefined;
  try {
    return { task: parseWith(TaskSchema, JSON.parse(raw), "task"), raw };
  } catch (e) {
    const aside = moveAside(file);
    throw new TeamsError("CORRUPT", `${file} is corrupt (${(e as Error).message.split("\n")[0].slice(0, 200)}); it was moved to ${aside} so nothing is lost. Inspect or restore it, then retry.`, { file, movedTo: aside });
  }
}

/** A file's text, or undefined when it does not exist. */
export const readRaw = readText;

/** Like readTaskFile, but a corrupt file (moved aside) counts as missing. */
function readTaskQuiet(file: string): Task | undefined {
  try {
    return readTaskFile(file)?.task;
  } catch (e) {
    if (e instanceof TeamsError && e.code === "CORRUPT") return undefined;
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Transactions over several task files: the intent (tx.json) is the commit
// point. It names the fsync'd temp file of every task the transaction
// replaces or creates; written after the checks, before the first rename,
// removed after the last. Readers prefer a listed temp file to the task file;
// the next writer that needs those tasks rolls the renames forward.

export const intentFile = (ctx: Ctx, team: string) => ctx.paths.taskIntent(team);

export interface Intent { writes: { id: string; tmp: string }[] }

/** The pending transaction's intent, if any (one failed open when there is none). */
export function readIntent(ctx: Ctx, team: string): Intent | undefined {
  const text = readRaw(intentFile(ctx, team));
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as Intent;
    if (Array.isArray(o.writes) && o.writes.every((w) => typeof w?.id === "string" && typeof w?.tmp === "string" && !w.tmp.includes("/"))) return o;
  } catch { /* written atomically: not torn; ignore anything else */ }
  return undefined;
}

export function writeIntent(ctx: Ctx, team: string, intent: Intent): void {
  writeFileAtomic(intentFile(ctx, team), JSON.stringify(intent) + "\n");
}

export function clearIntent(ctx: Ctx, team: string): void {
  try { fs.unlinkSync(intentFile(ctx, team)); } catch { /* gone */ }
}

/** The temp file a pending transaction will rename onto task `id`, if any. */
export function intentTemp(ctx: Ctx, team: string, intent: Intent | undefined, id: string): string | undefined {
  const w = intent?.writes.find((x) => x.id === id);
  return w ? path.join(ctx.paths.tasksDir(team), w.tmp) : undefined;
}

/** A task as readers must see it: a pending transaction's version if there is one, else its file. */
export function readVisible(ctx: Ctx, team: string, id: string, intent = readIntent(ctx, team)): TaskRead | undefined {
  const tmp = intentTemp(ctx, team, intent, id);
  if (tmp) {
    const raw = readRaw(tmp);
    if (raw !== undefined) {
      try { return { task: parseWith(TaskSchema, JSON.parse(raw), "task"), raw }; } catch { /* not ours to judge: fall back to the file */ }
    }
  }
  return readTaskFile(ctx.paths.taskFile(team, id));
}

function readVisibleQuiet(ctx: Ctx, team: string, id: string, intent: Intent | undefined): Task | undefined {
  try {
    return readVisible(ctx, team, id, intent)?.task;
  } catch (e) {
    if (e instanceof TeamsError && e.code === "CORRUPT") return undefined;
    throw e;
  }
}

/** Any file name that burns a task id: the task, its temp and reservation files, a corrupt copy moved aside. */
const ID_FILE = /^task_([1-9][0-9]{0,9})\.json(?:\..*)?$/;

/** Rebuilds the index from the task files (the source of truth). */
export function rebuildIndex(ctx: Ctx, team: string): TaskIndex {
  const index: TaskIndex = { nextId: 1, tasks: {} };
  let names: string[] = [];
  try {
    names = fs.readdirSync(ctx.paths.tasksDir(team));
  } catch { /* no tasks yet */ }
  const intent = readIntent(ctx, team);
  for (const n of names) {
    const m = ID_FILE.exec(n);
    if (!m) continue;
    index.nextId = Math.max(index.nextId, Number(m[1]) + 1);
    if (n !== `task_${m[1]}.json`) continue;
    const t = readVisibleQuiet(ctx, team, m[1], intent);
    if (t) index.tasks[t.id] = summaryOf(t);
  }
  for (const w of intent?.writes ?? []) {
    // A task a pending transaction creates.
    if (index.tasks[w.id]) continue;
    const t = readVisibleQuiet(ctx, team, w.id, intent);
    if (t) index.tasks[t.id] = summaryOf(t);
  }
  return index;
}

// ---------------------------------------------------------------------------
// The change log

export const logFile = (ctx: Ctx, team: string) => ctx.paths.taskLog(team);


type LogLine = TaskLogLine;

/**
 * Appends one line to the log without any lock (one write() on an O_APPEND
 * fd is atomic between appenders). If the log was replaced by a compaction
 * while we wrote, the line may have missed the snapshot: write it again to
 * the new log (a repeated line changes nothing). Returns true when this line
 * crossed a COMPACT_BYTES mark, i.e. the caller should compact.
 */
function appendLine(ctx: Ctx, team: string, line: LogLine): boolean {
  const file = logFile(ctx, team);
  const buf = Buffer.from(JSON.stringify(line) + "\n", "utf8");
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || attempt > 3) throw ioError(`cannot append to ${file}`, e);
      createLog(file);
      continue;
    }
    let size: number;
    let same: boolean;
    try {
      writeBytes(fd, buf);
      const mine = fs.fstatSync(fd);
      size = mine.size;
      let cur: fs.Stats | undefined;
      try { cur = fs.statSync(file); } catch { cur = undefined; }
      same = !!cur && cur.ino === mine.ino && cur.dev === mine.dev;
    } catch (e) {
      throw ioError(`cannot append to ${file}`, e);
    } finally {
      fs.closeSync(fd);
    }
    if (same || attempt > 3) return Math.floor((size - buf.length) / COMPACT_BYTES) !== Math.floor(size / COMPACT_BYTES);
  }
}

/** Creates the log (a header line naming it) unless another process just did. */
function createLog(file: string): void {
  ensureDir(path.dirname(file));
  const tmp = newLogTemp(file);
  try {
    fs.linkSync(tmp.path, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`cannot create ${file}`, e);
  } finally {
    try { fs.unlinkSync(tmp.path); } catch { /* gone */ }
  }
}

/** Writes a new log (header only) to a temp file; returns its path, id and header length. */
function newLogTemp(file: string): { path: string; id: string; headerBytes: number } {
  const id = randomBytes(8).toString("hex");
  const header = JSON.stringify({ log: id }) + "\n";
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openInDir(tmp, "wx");
  try {
    fs.writeSync(fd, header);
  } finally {
    fs.closeSync(fd);
  }
  return { path: tmp, id, headerBytes: Buffer.byteLength(header) };
}

/**
 * Replaces a task file whose index row changes, logging around the rename:
 * a pending line before it (a reader re-reads the file until a later row
 * line), the new row after it. Both lines go through one fd; if the log was
 * replaced meanwhile, both are written again to the new one. Returns true
 * when the caller should compact (see appendLine).
 */
export function logAround(ctx: Ctx, team: string, row: TaskSummary, rename: () => void): boolean {
  const file = logFile(ctx, team);
  const pending = Buffer.from(JSON.stringify({ pending: row.id }) + "\n", "utf8");
  const after = Buffer.from(JSON.stringify({ row }) + "\n", "utf8");
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot append to ${file}`, e);
    logPending(ctx, team, row.id);
    rename();
    return logRow(ctx, team, row);
  }
  let same: boolean;
  let size: number;
  try {
    writeAll(fd, pending, file);
    rename();
    writeAll(fd, after, file);
    const mine = fs.fstatSync(fd);
    size = mine.size;
    let cur: fs.Stats | undefined;
    try { cur = fs.statSync(file); } catch { cur = undefined; }
    same = !!cur && cur.ino === mine.ino && cur.dev === mine.dev;
  } finally {
    fs.closeSync(fd);
  }
  if (!same) {
    // Compacted while we wrote: the old log's tail may have been read before our lines.
    logPending(ctx, team, row.id);
    return logRow(ctx, team, row);
  }
  return Math.floor((size - pending.length - after.length) / COMPACT_BYTES) !== Math.floor(size / COMPACT_BYTES);
}

function writeAll(fd: number, buf: Buffer, file: string): void {
  try {
    writeBytes(fd, buf);
  } catch (e) {
    throw ioError(`cannot append to ${file}`, e);
  }
}

/** Before a task file whose index row changes is replaced: its row must be re-read from the file until the matching row line follows. */
export function logPending(ctx: Ctx, team: string, id: string): boolean {
  return appendLine(ctx, team, { pending: id });
}

/** After a task file was replaced or created: its new index row. */
export function logRow(ctx: Ctx, team: string, row: TaskSummary): boolean {
  return appendLine(ctx, team, { row });
}

// ---------------------------------------------------------------------------
// Reading: snapshot + log, cached per process

interface State {
  nextId: number;
  rows: Map<string, TaskSummary>;
  /** Ids whose rows must be re-read from the task files. */
  pending: Set<string>;
}

interface Cached {
  /** Identity of the snapshot the state started from ("none": rebuilt from the files). */
  snapKey: string;
  /** The log the state follows: its id (null: any log, read from its start), inode once seen, bytes consumed. */
  logId: string | null;
  logIno: number | null;
  logPos: number;
  /** Log position at which the state equals the snapshot; -1 when it was rebuilt from the files. */
  basePos: number;
  state: State;
}

const cache = new Map<string, Cached>();

function isRow(r: unknown): r is TaskSummary {
  const o = r as TaskSummary;
  return !!o && typeof o === "object" && typeof o.id === "string" && typeof o.subject === "string" && typeof o.status === "string"
    && Array.isArray(o.blockedBy) && Array.isArray(o.blocks) && typeof o.createdAt === "number";
}

/** Structural check of a snapshot (zod only to word the error when it fails). */
function checkSnapshot(v: unknown): TaskIndex {
  const o = v as TaskIndex;
  const ok = !!o && typeof o === "object" && Number.isInteger(o.nextId) && o.nextId >= 1 && !!o.tasks && typeof o.tasks === "object"
    && Object.values(o.tasks).every(isRow) && (o.pending === undefined || Array.isArray(o.pending))
    && (o.log === undefined || (typeof o.log?.id === "string" && Number.isInteger(o.log?.offset)));
  return ok ? o : parseWith(TaskIndexSchema, v, "task index");
}

function stateOf(index: TaskIndex): State {
  const rows = new Map<string, TaskSummary>();
  for (const [id, r] of Object.entries(index.tasks)) rows.set(id, r);
  return { nextId: index.nextId, rows, pending: new Set(index.pending ?? []) };
}

/** Applies complete log lines of `text`; returns the bytes consumed (up to the last newline). */
function apply(state: State, text: string): number {
  const { items, end } = parseJsonl<{ row?: unknown; pending?: unknown } | null>(text);
  for (const o of items) {
    if (!o || typeof o !== "object") continue;
    if (isRow(o.row)) {
      state.rows.set(o.row.id, o.row);
      state.pending.delete(o.row.id);
      state.nextId = Math.max(state.nextId, Number(o.row.id) + 1);
    } else if (typeof o.pending === "string") {
      state.pending.add(o.pending);
    }
  }
  return Buffer.byteLength(text.slice(0, end));
}

function snapKeyOf(st: fs.Stats): string {
  return `${st.dev}/${st.ino}/${st.size}/${st.mtimeMs}`;
}

/** Reads the snapshot; undefined when missing or corrupt (moved aside). */
function readSnapshot(file: string): { key: string; index: TaskIndex } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(`cannot read ${file}`, e);
  }
  let key: string;
  let text: string;
  try {
    key = snapKeyOf(fs.fstatSync(fd));
    text = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  try {
    return { key, index: checkSnapshot(JSON.parse(text)) };
  } catch {
    moveAside(file); // kept for inspection; the index is rebuilt from the task files
    return undefined;
  }
}

function rebuiltState(ctx: Ctx, team: string): State {
  return stateOf(rebuildIndex(ctx, team));
}

/** True while another process holds the team's tasks lock (so a compaction may be under way). */
function teamLockHeld(ctx: Ctx, team: string): boolean {
  try {
    return fs.statSync(`${ctx.paths.taskIndex(team)}.lock`).mtimeMs >= Date.now() - STALE_MS;
  } catch {
    return false;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Brings the cached state up to date with the snapshot and the log's end. */
function load(ctx: Ctx, team: string): Cached {
  const dir = ctx.paths.tasksDir(team);
  const snapFile = ctx.paths.taskIndex(team);
  const started = Date.now();
  for (;;) {
    let st: fs.Stats | undefined;
    try { st = fs.statSync(snapFile); } catch { st = undefined; }
    const key = st ? snapKeyOf(st) : "none";
    let c = cache.get(dir);
    if (!c || c.snapKey !== key) {
      const snap = st ? readSnapshot(snapFile) : undefined;
      if (snap) {
        const pos = snap.index.log?.offset ?? 0;
        c = { snapKey: snap.key, logId: snap.index.log?.id ?? null, logIno: null, logPos: pos, basePos: pos, state: stateOf(snap.index) };
      } else c = { snapKey: "none", logId: null, logIno: null, logPos: 0, basePos: -1, state: rebuiltState(ctx, team) };
      cache.delete(dir);
    }
    let fd: number;
    try {
      fd = fs.openSync(logFile(ctx, team), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot read ${logFile(ctx, team)}`, e);
      // No log: the snapshot (or the files) is everything, unless the state followed a log that vanished.
      if (c.logIno !== null || (c.logId !== null && c.logPos > 0)) c = { snapKey: key, logId: null, logIno: null, logPos: 0, basePos: -1, state: rebuiltState(ctx, team) };
      cache.set(dir, c);
      return c;
    }
    try {
      const lst = fs.fstatSync(fd);
      if (c.logIno !== lst.ino) {
        const id = readLogId(fd);
        if (c.logIno === null && (c.logId === null || c.logId === id)) {
          c.logId = id;
          c.logIno = lst.ino;
        } else {
          // The log is not the one this state follows: a compaction just
          // finished (read its snapshot), is between its two renames (wait
          // for it), or died there (rebuild from the files).
          let now: fs.Stats | undefined;
          try { now = fs.statSync(snapFile); } catch { now = undefined; }
          if ((now ? snapKeyOf(now) : "none") !== key) continue;
          if (teamLockHeld(ctx, team) && Date.now() - started < WAIT_MS) {
            cache.set(dir, c); // unchanged: no need to parse the snapshot again
            sleepSync(1);
            continue;
          }
          c = { snapKey: key, logId: id, logIno: lst.ino, logPos: 0, basePos: -1, state: rebuiltState(ctx, team) };
        }
      }
      if (lst.size < c.logPos) {
        c = { snapKey: key, logId: c.logId, logIno: lst.ino, logPos: 0, basePos: -1, state: rebuiltState(ctx, team) };
      }
      if (lst.size > c.logPos) {
        const buf = Buffer.alloc(lst.size - c.logPos);
        let got = 0;
        while (got < buf.length) {
          const n = fs.readSync(fd, buf, got, buf.length - got, c.logPos + got);
          if (n === 0) break;
          got += n;
        }
        c.logPos += apply(c.state, buf.subarray(0, got).toString("utf8"));
      }
    } finally {
      fs.closeSync(fd);
    }
    cache.set(dir, c);
    return c;
  }
}

function readLogId(fd: number): string | null {
  const buf = Buffer.alloc(256);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const text = buf.subarray(0, n).toString("utf8");
  const nl = text.indexOf("\n");
  if (nl < 0) return null;
  try {
    const o = JSON.parse(text.slice(0, nl)) as { log?: unknown };
    return typeof o.log === "string" ? o.log : null;
  } catch {
    return null;
  }
}

/**
 * The rows as the task files say: rows named pending are re-read, ids below
 * nextId without a row and files past nextId are looked up.
 */
function resolve(ctx: Ctx, team: string, s: State): TaskIndex {
  const tasks: Record<string, TaskSummary> = {};
  for (const [id, r] of s.rows) tasks[id] = r;
  let nextId = s.nextId;
  const intent = readIntent(ctx, team);
  const reread = (id: string) => {
    const t = readVisibleQuiet(ctx, team, id, intent);
    if (t) tasks[id] = summaryOf(t);
    else delete tasks[id];
    return !!t;
  };
  for (const id of s.pending) reread(id);
  for (const w of intent?.writes ?? []) {
    reread(w.id);
    nextId = Math.max(nextId, Number(w.id) + 1);
  }
  for (let i = 1; i < nextId; i++) {
    const id = String(i);
    if (!(id in tasks) && !s.pending.has(id) && fs.existsSync(ctx.paths.taskFile(team, id))) reread(id);
  }
  while (fs.existsSync(ctx.paths.taskFile(team, String(nextId)))) reread(String(nextId++));
  return { nextId, tasks };
}

/** The current index, without any lock. Rows are shared with the cache: replace them, never change them. */
export function readIndex(ctx: Ctx, team: string): TaskIndex {
  return resolve(ctx, team, load(ctx, team).state);
}

/** The next free id as far as the index knows (creators still check the files). */
export function peekNextId(ctx: Ctx, team: string): number {
  const s = load(ctx, team).state;
  let n = s.nextId;
  while (fs.existsSync(ctx.paths.taskFile(team, String(n)))) n++;
  return n;
}

// ---------------------------------------------------------------------------
// Compaction (under the team lock)

/**
 * Folds the log into a new snapshot and starts a new log. The caller holds
 * the team lock. Order: replace the log (so late appenders to the old one
 * notice and write again), read the old log's tail, write the snapshot that
 * names the new log. `minBytes`: do nothing unless the log has that much.
 */
export function compactLocked(ctx: Ctx, team: string, minBytes = 0): boolean {
  if (!fs.existsSync(ctx.paths.teamConfig(team))) return false; // team deleted: do not resurrect its files
  const dir = ctx.paths.tasksDir(team);
  const file = logFile(ctx, team);
  let c: Cached;
  try {
    c = load(ctx, team);
  } catch (e) {
    cache.delete(dir);
    throw e;
  }
  let oldFd: number | undefined;
  try {
    oldFd = fs.openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot read ${file}`, e);
  }
  try {
    const size = oldFd === undefined ? 0 : fs.fstatSync(oldFd).size;
    // Bytes the snapshot does not have yet: the log past its offset (everything, when it was rebuilt).
    const behind = behindBytes(c, oldFd === undefined ? undefined : size);
    if (behind <= 0 || behind < minBytes) return false;
    // The state is ours to change from here on; the cache is set again at the end.
    cache.delete(dir);
    const state = c.state;
    let pos = c.logPos;
    if (oldFd !== undefined && fs.fstatSync(oldFd).ino !== c.logIno) {
      // Not the log the state followed (replaced just now): start over from the files and this log.
      Object.assign(state, rebuiltState(ctx, team));
      pos = 0;
    }
    const fresh = newLogTemp(file);
    try {
      fs.renameSync(fresh.path, file);
    } catch (e) {
      try { fs.unlinkSync(fresh.path); } catch { /* gone */ }
      throw ioError(`cannot replace ${file}`, e);
    }
    if (oldFd !== undefined) {
      const rest = fs.fstatSync(oldFd).size - pos;
      if (rest > 0) {
        apply(state, readBytes(oldFd, rest, pos).toString("utf8"));
      }
    }
    // Rows still pending whose task is not locked by a live writer: the file is final, take its row.
    const intent = readIntent(ctx, team);
    for (const id of [...state.pending]) {
      if (intentTemp(ctx, team, intent, id) || lockFresh(`${taskLockPath(ctx, team, id)}.lock`)) continue;
      const t = readTaskQuiet(ctx.paths.taskFile(team, id));
      if (t) state.rows.set(id, summaryOf(t));
      else state.rows.delete(id);
      state.pending.delete(id);
    }
    const resolved = resolve(ctx, team, state);
    const snapshot: TaskIndex = { nextId: resolved.nextId, tasks: resolved.tasks, pending: [...state.pending], log: { id: fresh.id, offset: fresh.headerBytes } };
    writeFileAtomic(ctx.paths.taskIndex(team), JSON.stringify(snapshot) + "\n", { fsync: false });
    const st = fs.statSync(ctx.paths.taskIndex(team));
    const next = stateOf(snapshot);
    cache.set(dir, { snapKey: snapKeyOf(st), logId: fresh.id, logIno: null, logPos: fresh.headerBytes, basePos: fresh.headerBytes, state: next });
    return true;
  } finally {
    if (oldFd !== undefined) fs.closeSync(oldFd);
  }
}

/**
 * How far the snapshot lags: the log bytes past its offset. Without a usable
 * snapshot (rebuilt from the files): the whole log, or, with no log either,
 * everything if there are tasks (so the next compaction writes one).
 */
function behindBytes(c: Cached, logSize: number | undefined): number {
  if (c.basePos >= 0) return (logSize ?? c.basePos) - c.basePos;
  if (logSize !== undefined) return Math.max(logSize, 1);
  return c.state.rows.size ? Infinity : 0;
}

function lockFresh(lockDir: string): boolean {
  try {
    return fs.statSync(lockDir).mtimeMs >= Date.now() - STALE_MS;
  } catch {
    return false;
  }
}

/** Runs `fn` holding the locks of `files` (taken in the order given). */
export async function withLocks<T>(files: string[], fn: () => T): Promise<T> {
  if (!files.length) return fn();
  return withLock(files[0], () => withLocks(files.slice(1), fn));
}

/**
 * Finishes a transaction that died after its commit point (tx.json): renames
 * the temp files it names onto their tasks, under those tasks' locks (a dead
 * holder's are taken over once stale). The caller holds the team lock.
 */
export async function recoverIntent(ctx: Ctx, team: string): Promise<void> {
  const intent = readIntent(ctx, team);
  if (!intent) return;
  const ids = [...new Set(intent.writes.map((w) => w.id))].sort((a, b) => Number(a) - Number(b));
  await withLocks(ids.map((id) => taskLockPath(ctx, team, id)), () => {
    for (const w of intent.writes) {
      const tmp = intentTemp(ctx, team, intent, w.id)!;
      const raw = readRaw(tmp);
      if (raw === undefined) continue; // renamed before the crash
      let task: Task;
      try { task = JSON.parse(raw) as Task; } catch { discardTemp(tmp); continue; }
      logAround(ctx, team, summaryOf(task), () => commitTemp(tmp, ctx.paths.taskFile(team, w.id)));
    }
    clearIntent(ctx, team);
  });
}

/** Under the team lock (waiting for it): finishes a dead transaction, then compacts if the log has at least `minBytes`. */
export async function compact(ctx: Ctx, team: string, minBytes = COMPACT_BYTES): Promise<void> {
  await withLock(ctx.paths.taskIndex(team), async () => {
    await recoverIntent(ctx, team);
    compactLocked(ctx, team, minBytes);
  });
}

/**
 * For task_list (synchronous): once the log holds READ_COMPACT_BYTES the
 * snapshot does not have, fold it now if the team lock is free, without
 * waiting (skip when busy). Keeps tasks.json close to current for scripts and
 * cheap to read for processes that start cold (CLI), without turning every
 * read into a write.
 */
export const READ_COMPACT_BYTES = Math.min(8 * 1024, COMPACT_BYTES);
export function compactIfIdle(ctx: Ctx, team: string): void {
  const c = cache.get(ctx.paths.tasksDir(team));
  if (!c) return;
  if (behindBytes(c, c.logIno === null ? undefined : c.logPos) < READ_COMPACT_BYTES) return;
  const file = ctx.paths.taskIndex(team);
  if (!fs.existsSync(ctx.paths.tasksDir(team))) return;
  // Only a free lock: taking over a stale one is withLock's job (one taker at a
  // time), and anyone in this process already queued for it goes first.
  if (lockHeld(file) || fs.existsSync(`${file}.lock`)) return;
  let release: (() => void) | undefined;
  try {
    release = lockfile.lockSync(file, { realpath: false, stale: STALE_MS, onCompromised: () => undefined });
  } catch {
    return; // busy (or the directory vanished): someone else will
  }
  try {
    compactLocked(ctx, team, READ_COMPACT_BYTES);
  } finally {
    try { release(); } catch { /* already released */ }
  }
}

/** Forgets the cached index of a team (tests; a team deleted and re-created). */
export function forgetIndexCache(ctx?: Ctx, team?: string): void {
  if (ctx && team) cache.delete(ctx.paths.tasksDir(team));
  else cache.clear();
}

// ---------------------------------------------------------------------------
// Writing task files: the temp copy is written and fsync'd before any lock is
// taken; under the lock only a compare and a rename remain.

/** Writes `text` to a new temp file beside `file`, fsync'd; returns its path. */
export function writeTemp(file: string, text: string): string {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  fillNew(tmp, text, "wx");
  return tmp;
}

function fillNew(tmp: string, text: string, flags: string): void {
  let fd: number | undefined;
  try {
    fd = openInDir(tmp, flags);
    writeBytes(fd, Buffer.from(text, "utf8"));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw ioError(`cannot write ${tmp}`, e);
  }
}

/** Moves a written temp file into place (atomic). */
export function commitTemp(tmp: string, file: string): void {
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    discardTemp(tmp);
    throw ioError(`cannot write ${file}`, e);
  }
}

export function discardTemp(tmp: string): void {
  try { fs.unlinkSync(tmp); } catch { /* gone */ }
}

/**
 * Reserves the first free id from `from` on without any lock: creating
 * `task_<n>.json.new.tmp` exclusively (O_EXCL) makes this process the only
 * one that may create task n; an id whose task file already exists is
 * skipped. The reservation becomes the task file (fillReservation, then
 * commitTemp). A creator killed in between leaves its reservation behind, so
 * that id stays burnt, never reused.
 */
export function reserveId(ctx: Ctx, team: string, from: number): Reservation {
  for (let n = Math.max(1, from); ; n++) {
    n = firstFree(ctx, team, n);
    const r = reserveExact(ctx, team, n);
    if (r) return r;
  }
}

/**
 * The lowest id from `from` on that is neither a task file nor a reservation,
 * assuming (as creators make it) that taken ids form a run: gallops ahead
 * (from+1, +3, +7, …) past the run, then bisects back. A creator that fell
 * behind (descheduled while others created hundreds of tasks) catches up in
 * ~2·log2(distance) path lookups instead of one per id; each lookup is a
 * point where a busy machine can deschedule it again, and one per id made
 * the slowest creates chase the others for 100+ ms. O_EXCL decides.
 *
 * Stats (path lookups, no directory lock) are used rather than O_EXCL tries:
 * a creator renames its reservation into the task file, which frees the
 * reservation's name, so crowded creators would otherwise mostly make (and
 * remove) an inode only to find the id taken, or queue on the directory's
 * lock for an O_EXCL open that fails.
 */
function firstFree(ctx: Ctx, team: string, from: number): number {
  const taken = (n: number) => {
    const file = ctx.paths.taskFile(team, String(n));
    return fs.existsSync(file) || fs.existsSync(`${file}.new.tmp`);
  };
  if (!taken(from)) return from;
  let lo = from; // taken
  let step = 1;
  while (taken(lo + step)) {
    lo += step;
    step *= 2;
  }
  let hi = lo + step; // free
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (taken(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Reserves exactly this id, or returns undefined when it is taken. */
export function reserveExact(ctx: Ctx, team: string, n: number): Reservation | undefined {
  const file = ctx.paths.taskFile(team, String(n));
  const res = `${file}.new.tmp`;
  let fd: number;
  try {
    fd = openInDir(res, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw ioError(`cannot create ${res}`, e);
  }
  if (fs.existsSync(file)) {
    fs.closeSync(fd);
    discardTemp(res);
    return undefined;
  }
  return { id: String(n), path: res, fd };
}

export interface Reservation { id: string; path: string; fd?: number }

/** Writes a reserved task's content (fsync'd) into its reservation file. */
export function fillReservation(r: Reservation, text: string): void {
  if (r.fd === undefined) return fillNew(r.path, text, "w");
  const fd = r.fd;
  r.fd = undefined;
  try {
    writeAll(fd, Buffer.from(text, "utf8"), r.path);
    fs.fsyncSync(fd);
  } catch (e) {
    throw ioError(`cannot write ${r.path}`, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** Gives a reserved id back. */
export function releaseReservation(r: Reservation): void {
  if (r.fd !== undefined) { try { fs.closeSync(r.fd); } catch { /* closed */ } r.fd = undefined; }
  discardTemp(r.path);
}
