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
      unlock = await lockfile.lock(file, {
        realpath: false,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        fs: lockFs,
        onCompromised: (err) => {
          // Never crash the host: the write under this lock is atomic anyway.
          if (compromisedReports++ < 3) process.emitWarning(`clanker-teams: lock on ${file} compromised: ${err.message}`);
        },
      });
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
  mkdir: (p: string, cb: Cb) => viaCallback(cb, () => { fs.mkdirSync(p); }),
  stat: (p: string, cb: Cb<fs.Stats>) => viaCallback(cb, () => fs.statSync(p)),
  utimes: (p: string, atime: Date, mtime: Date, cb: Cb) => viaCallback(cb, () => fs.utimesSync(p, atime, mtime)),
  rmdir: (p: string, cb: Cb) => viaCallback(cb, () => fs.rmdirSync(p)),
  realpath: (p: string, cb: Cb<string>) => viaCallback(cb, () => fs.realpathSync(p)),
  /** proper-lockfile's exit handler removes still-held locks with this. */
  rmdirSync: (p: string) => fs.rmdirSync(p),
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
