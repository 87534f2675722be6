/**
 * Cross-process locks for the JSON store's rare writes (team config, presence
 * merges, named locks such as the spawn lock, log rotation, materializing): a
 * `<file>.lock` directory (mkdir is atomic), 0700, whose mtime the holder
 * refreshes every second; one not refreshed for STALE_MS belongs to a dead
 * holder and is taken over, one taker at a time. An in-process queue in front
 * keeps callers of one process from fighting over the directory. The hot
 * paths (tasks, mail, events) take no lock at all: they append to the log.
 *
 * Bound: a holder killed right after taking a lock loses it after STALE_MS
 * plus one poll (≤ POLL_MAX_MS), i.e. within 5 s.
 */
import fs from "node:fs";
import path from "node:path";
import { TeamsError } from "../../errors.js";
import { DIR_MODE, ensureDir, forgetDirs, ioError } from "./files.js";

export const STALE_MS = 4000;
const REFRESH_MS = 1000;
const POLL_MAX_MS = 50;
/** How long a caller waits for a busy lock before giving up with LOCKED. */
export function waitMs(): number {
  return Number(process.env.CLANKER_TEAMS_LOCK_WAIT_MS) || 30_000;
}

const queues = new Map<string, Promise<unknown>>();
/** Lock directories this process holds: path → inode (to never remove one taken over from us). */
const held = new Map<string, number>();

/** True while the lock directory exists and was refreshed within STALE_MS. */
function fresh(lockDir: string): boolean {
  try {
    return fs.lstatSync(lockDir).mtimeMs >= Date.now() - STALE_MS;
  } catch {
    return false;
  }
}

/**
 * One attempt: mkdir the lock directory, taking over a stale one. True when we
 * hold it now. `recreate`: make its directory again if it was removed.
 */
function attempt(root: string, lockDir: string, recreate: boolean): boolean {
  let tookOver = false;
  for (let i = 0; i < 4; i++) {
    try {
      fs.mkdirSync(lockDir, { mode: DIR_MODE });
      held.set(lockDir, fs.lstatSync(lockDir).ino);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && recreate && i < 3) {
        // Its directory was removed behind this process's back (the team deleted and made again elsewhere).
        forgetDirs(path.dirname(lockDir));
        ensureDir(root, path.dirname(lockDir));
        continue;
      }
      if (code !== "EEXIST") throw ioError(`cannot lock ${lockDir}`, e);
      if (tookOver || fresh(lockDir) || !takeOver(lockDir)) return false;
      tookOver = true;
    }
  }
  return false;
}

/**
 * Removes a stale lock directory. Takers go one at a time through a guard
 * directory and re-check staleness under it, so two takers cannot both win
 * (the second removing the first's fresh lock).
 */
function takeOver(lockDir: string): boolean {
  const guard = `${lockDir}.takeover`;
  try {
    fs.mkdirSync(guard, { mode: DIR_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return false;
    // The guarded section takes microseconds: an old guard belongs to a taker that died in it.
    try { if (fs.lstatSync(guard).mtimeMs < Date.now() - STALE_MS) fs.rmdirSync(guard); } catch { /* gone */ }
    return false;
  }
  try {
    let st: fs.Stats;
    try { st = fs.lstatSync(lockDir); } catch { return true; } // released meanwhile
    if (st.mtimeMs >= Date.now() - STALE_MS) return false;
    if (st.isSymbolicLink() || !st.isDirectory()) fs.unlinkSync(lockDir);
    else fs.rmdirSync(lockDir);
    return true;
  } catch {
    return false;
  } finally {
    try { fs.rmdirSync(guard); } catch { /* gone */ }
  }
}

function release(lockDir: string): void {
  const ino = held.get(lockDir);
  held.delete(lockDir);
  try {
    // Only our own directory: one taken over from us (we stalled past STALE_MS) belongs to its new holder.
    if (ino !== undefined && fs.lstatSync(lockDir).ino === ino) fs.rmdirSync(lockDir);
  } catch { /* gone */ }
}

/**
 * Runs synchronous `fn` under the lock of `file` only if it is free right now
 * (in this process and across processes); otherwise returns undefined at once.
 * Keep `fn` far below STALE_MS: nothing refreshes the lock while it runs.
 */
export function tryLockSync<T>(root: string, file: string, fn: () => T): { value: T } | undefined {
  if (queues.has(file)) return undefined;
  const lockDir = `${file}.lock`;
  if (fresh(lockDir)) return undefined;
  ensureDir(root, path.dirname(file));
  if (!attempt(root, lockDir, false)) return undefined;
  try {
    return { value: fn() };
  } finally {
    release(lockDir);
  }
}

/** Runs `fn` holding the lock of `file` (the file need not exist), waiting for it up to waitMs(). */
export async function withLock<T>(root: string, file: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = prev.then(() => mine);
  queues.set(file, tail);
  try {
    await prev;
    return await locked(root, file, fn);
  } finally {
    done();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

async function locked<T>(root: string, file: string, fn: () => T | Promise<T>): Promise<T> {
  ensureDir(root, path.dirname(file));
  const lockDir = `${file}.lock`;
  const started = Date.now();
  for (let n = 0; !attempt(root, lockDir, true); n++) {
    if (Date.now() - started > waitMs()) {
      throw new TeamsError("LOCKED", `${file} stayed locked for ${Math.round(waitMs() / 1000)} s; another process is holding it and keeps it fresh, so it is alive. Retry; if it persists, look for a hung clanker-teams or agent process (a dead holder's lock is taken over within 5 s).`, { file });
    }
    await sleep(Math.min(POLL_MAX_MS, 1 + n) * (0.75 + Math.random() / 2));
  }
  const timer = setInterval(() => {
    const now = new Date();
    try { fs.utimesSync(lockDir, now, now); } catch { /* taken over or gone: release() leaves it alone */ }
  }, REFRESH_MS);
  timer.unref();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    release(lockDir);
  }
}

/** True while some caller holds the lock of `file` (in this process, or a fresh lock directory of another). */
export function lockHeld(file: string): boolean {
  return queues.has(file) || fresh(`${file}.lock`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// A process that exits while holding locks (process.exit in a CLI) removes them, so nobody waits for STALE_MS.
process.once("exit", () => {
  for (const dir of [...held.keys()]) release(dir);
});
