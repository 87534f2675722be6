/**
 * Cross-process locks (proper-lockfile: a `<file>.lock` directory whose mtime
 * the holder refreshes every second) behind an in-process mutex, so calls
 * inside one process queue instead of fighting over the lock directory.
 *
 * Stale bound: a lock not refreshed for STALE_MS is taken over (its holder
 * died). A live holder, however slow, keeps refreshing and keeps its lock.
 */
import lockfile from "proper-lockfile";
import fs from "node:fs";
import path from "node:path";
import { TeamsError } from "../errors.js";
import { ensureDir, forgetDirs, ioError } from "./json-file.js";

export const STALE_MS = 5000;
const UPDATE_MS = 1000;
/** How long a caller waits for a busy lock before giving up with LOCKED. */
export const WAIT_MS = Number(process.env.CLANKER_TEAMS_LOCK_WAIT_MS) || 30_000;

const queues = new Map<string, Promise<unknown>>();
let compromisedReports = 0;

/** Runs `fn` while holding the lock of `file` (the file need not exist). */
export async function withLock<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(file, tail);
  try {
    await prev;
    return await lockedSection(file, fn);
  } finally {
    release();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

/**
 * Runs `fn` under the lock of `file` only if the lock is free right now (in
 * this process and across processes); otherwise returns undefined at once,
 * without waiting. For short synchronous sections (events.ts: flat combining,
 * where whoever holds the lock does the others' work; tasks.ts: a task's
 * read-check-rename, which queues with withLock only when this fails): one `mkdir` of the
 * same `<file>.lock` directory proper-lockfile uses (so both kinds of holders
 * exclude each other), `fn`, `rmdir`. No refresh timer: nothing else runs in
 * this process while `fn` runs, so a timer could not fire anyway; keep `fn`
 * far below STALE_MS. A stale lock (dead holder) is taken over, one taker at
 * a time.
 */
export function tryLockSync<T>(file: string, fn: () => T): { value: T } | undefined {
  if (queues.has(file)) return undefined;
  const lockDir = `${file}.lock`;
  if (heldFresh(lockDir)) return undefined;
  ensureDir(path.dirname(file));
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && attempt === 0) {
        // Our cached directory was removed by another process (team deleted and re-created): make it again.
        forgetDirs(path.dirname(file));
        ensureDir(path.dirname(file));
        continue;
      }
      if (code !== "EEXIST") throw ioError(`cannot lock ${file}`, e);
      if (attempt > 0 || heldFresh(lockDir)) return undefined;
      try {
        removeStale(lockDir);
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === "ELOCKED") return undefined;
        throw ioError(`cannot lock ${file}`, e2);
      }
    }
  }
  try {
    return { value: fn() };
  } finally {
    try { fs.rmdirSync(lockDir); } catch { /* taken over meanwhile (we were stale): nothing of ours to remove */ }
  }
}

/** One proper-lockfile attempt (no retries) with our stale bound, refresh and fs. */
function acquire(file: string): Promise<() => Promise<void>> {
  return lockfile.lock(file, {
    realpath: false,
    stale: STALE_MS,
    update: UPDATE_MS,
    retries: 0,
    fs: lockFs,
    onCompromised: (err) => {
      ours.delete(`${file}.lock`);
      // Never crash the host: the write under this lock is atomic anyway.
      if (compromisedReports++ < 3) process.emitWarning(`clanker-teams: lock on ${file} compromised: ${err.message}`);
    },
  });
}

async function lockedSection<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  ensureDir(path.dirname(file));
  const started = Date.now();
  let unlock: (() => Promise<void>) | undefined;
  let attempt = 0;
  let recreated = false;
  const lockDir = `${file}.lock`;
  while (!unlock) {
    // While the lock is held, poll with one stat instead of a full proper-lockfile attempt.
    if (attempt > 0 && heldFresh(lockDir)) {
      if (Date.now() - started > WAIT_MS) throw lockedError(file);
      await sleep(backoff(attempt++));
      continue;
    }
    try {
      unlock = await acquire(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && !recreated) {
        // Our cached directory was removed by another process (team deleted and re-created): make it again.
        forgetDirs(path.dirname(file));
        ensureDir(path.dirname(file));
        recreated = true;
        continue;
      }
      if (code !== "ELOCKED") throw ioError(`cannot lock ${file}`, e);
      if (Date.now() - started > WAIT_MS) throw lockedError(file);
      await sleep(backoff(attempt++));
    }
  }
  try {
    return await fn();
  } finally {
    await unlock().catch(() => undefined);
  }
}

function lockedError(file: string): TeamsError {
  return new TeamsError("LOCKED", `${file} stayed locked for ${Math.round(WAIT_MS / 1000)} s; another process is holding it. Retry; if it persists, check for a hung clanker-teams process (a dead holder's lock is released after ${STALE_MS / 1000} s).`, { file });
}

/** True while some caller holds the lock of `file` (in this process, or a fresh lock directory of another). */
export function lockHeld(file: string): boolean {
  return queues.has(file) || heldFresh(`${file}.lock`);
}

/** True while the lock directory exists and is not stale (proper-lockfile's own rule: mtime within STALE_MS). */
function heldFresh(lockDir: string): boolean {
  try {
    return fs.statSync(lockDir).mtimeMs >= Date.now() - STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Short jittered waits: 1 ms (node's timer resolution) at first, growing to
 * at most ~8 ms. Critical sections last about a millisecond, so a longer cap
 * leaves the lock idle after each hand-off and lets newcomers overtake old
 * waiters (a long p99); polling a held lock costs one stat (see heldFresh).
 * Measured with `npm run bench -- --only sends,lock` (docs/benchmarks.md).
 */
function backoff(attempt: number): number {
  const base = Math.min(8, 1.25 ** attempt);
  return base * (0.75 + Math.random() / 2);
}

type Cb<T = void> = (err: NodeJS.ErrnoException | null, value?: T) => void;

/** Runs a synchronous fs call and reports it to a node-style callback on the next tick. */
function viaCallback<T>(cb: Cb<T>, fn: () => T): void {
  let value: T;
  try {
    value = fn();
  } catch (e) {
    process.nextTick(cb, e as NodeJS.ErrnoException);
    return;
  }
  process.nextTick(cb, null, value);
}

/**
 * The calls proper-lockfile makes on the lock directory (its `fs` option),
 * done synchronously: each is one syscall of a few microseconds, while the
 * default async versions cost a thread-pool round trip per call (mkdir, stat,
 * rmdir: 0.5–2 ms each under load), all of it hand-off time on a busy lock.
 */
const lockFs = {
  mkdir: (p: string, cb: Cb) => viaCallback(cb, () => { fs.mkdirSync(p); ours.add(p); }),
  stat: (p: string, cb: Cb<fs.Stats>) => viaCallback(cb, () => fs.statSync(p)),
  utimes: (p: string, atime: Date, mtime: Date, cb: Cb) => viaCallback(cb, () => fs.utimesSync(p, atime, mtime)),
  rmdir: (p: string, cb: Cb) => viaCallback(cb, () => (ours.delete(p) ? fs.rmdirSync(p) : removeStale(p))),
  realpath: (p: string, cb: Cb<string>) => viaCallback(cb, () => fs.realpathSync(p)),
  /** proper-lockfile's exit handler removes still-held locks with this. */
  rmdirSync: (p: string) => fs.rmdirSync(p),
};

/** Lock directories this process created and has not removed yet (proper-lockfile removes them with rmdir on release). */
const ours = new Set<string>();

/**
 * proper-lockfile removes a stale lock directory (stat, see it stale, rmdir,
 * mkdir): two processes taking over the same dead holder's lock can both
 * win, the second removing the first's fresh directory. So takers go one at a
 * time through a guard directory (`<lock>.takeover`, mkdir is atomic) and
 * re-check staleness under it; a taker that finds the guard taken, or the
 * lock fresh again, reports the lock busy and retries later.
 */
function removeStale(lockDir: string): void {
  const guard = `${lockDir}.takeover`;
  try {
    fs.mkdirSync(guard);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    // The guarded section takes microseconds: an old guard belongs to a taker that died in it.
    try {
      if (fs.statSync(guard).mtimeMs < Date.now() - STALE_MS) fs.rmdirSync(guard);
    } catch { /* gone meanwhile */ }
    throw busy(lockDir);
  }
  try {
    let st: fs.Stats;
    try {
      st = fs.statSync(lockDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // released meanwhile: free to take
      throw e;
    }
    // While the stale directory exists nobody can create a fresh one, and only guard holders remove it.
    if (st.mtimeMs >= Date.now() - STALE_MS) throw busy(lockDir);
    fs.rmdirSync(lockDir);
  } finally {
    try { fs.rmdirSync(guard); } catch { /* already gone */ }
  }
}

function busy(lockDir: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`lock ${lockDir} is being taken over by another process`), { code: "ELOCKED" });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
