/**
 * Cross-process locks (proper-lockfile: a `<file>.lock` directory whose mtime
 * the holder refreshes every second) behind an in-process mutex, so calls
 * inside one process queue instead of fighting over the lock directory.
 *
 * Stale bound: a lock not refreshed for STALE_MS is taken over (its holder
 * died). A live holder, however slow, keeps refreshing and keeps its lock.
 */
import lockfile from "proper-lockfile";
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
  while (!unlock) {
    try {
      unlock = await lockfile.lock(file, {
        realpath: false,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
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
      if (Date.now() - started > WAIT_MS) {
        throw new TeamsError("LOCKED", `${file} stayed locked for ${Math.round(WAIT_MS / 1000)} s; another process is holding it. Retry; if it persists, check for a hung clanker-teams process (a dead holder's lock is released after ${STALE_MS / 1000} s).`, { file });
      }
      await sleep(backoff(attempt++));
    }
  }
  try {
    return await fn();
  } finally {
    await unlock().catch(() => undefined);
  }
}

/** Short jittered waits: ~0.5–1 ms at first, growing to at most ~20 ms. */
function backoff(attempt: number): number {
  const base = Math.min(20, 0.5 * 1.5 ** attempt);
  return base * (0.5 + Math.random());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
