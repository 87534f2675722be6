/**
 * Counts what the cross-process lock costs inside a worker, without touching
 * src/: src/store/lock.ts calls `lockfile.lock(...)` through the shared CJS
 * module object, so wrapping that property here sees every attempt.
 *
 * Per lock file (by basename kind): attempts, ELOCKED failures, time spent in
 * lock() calls, and hold time (lock granted → release called).
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import lockfile from "proper-lockfile";

export interface LockProfile {
  attempts: number;
  busy: number;
  attemptMs: number;
  acquired: number;
  holdMs: number;
  releaseMs: number;
}

const profiles = new Map<string, LockProfile>();
let installed = false;

/** Groups lock files: "inbox", "events", "tasks", "config", "presence", "index", "other". */
function kind(file: string): string {
  const base = path.basename(file);
  if (base === "events.jsonl") return "events";
  if (base === "tasks.json") return "tasks";
  if (base === "config.json") return "config";
  if (base === "index.json") return "msgindex";
  if (path.basename(path.dirname(file)) === "runtime") return "presence";
  if (base.endsWith(".json")) return "inbox";
  return "other";
}

function get(k: string): LockProfile {
  let p = profiles.get(k);
  if (!p) profiles.set(k, (p = { attempts: 0, busy: 0, attemptMs: 0, acquired: 0, holdMs: 0, releaseMs: 0 }));
  return p;
}

/** Installs the wrapper (idempotent). */
export function installLockProbe(): void {
  if (installed) return;
  installed = true;
  const lf = lockfile as unknown as { lock: typeof lockfile.lock };
  const orig = lf.lock;
  lf.lock = (async (file: string, opts?: Parameters<typeof lockfile.lock>[1]) => {
    const p = get(kind(file));
    const t0 = performance.now();
    p.attempts++;
    try {
      const release = await orig(file, opts);
      const t1 = performance.now();
      p.attemptMs += t1 - t0;
      p.acquired++;
      return async () => {
        const r0 = performance.now();
        p.holdMs += r0 - t1;
        try { return await release(); } finally { p.releaseMs += performance.now() - r0; }
      };
    } catch (e) {
      p.attemptMs += performance.now() - t0;
      if ((e as NodeJS.ErrnoException).code === "ELOCKED") p.busy++;
      throw e;
    }
  }) as typeof lockfile.lock;
}

export function lockProfile(): Record<string, LockProfile> {
  return Object.fromEntries(profiles);
}

export function resetLockProfile(): void {
  profiles.clear();
}

/** Sums profiles from several processes. */
export function mergeProfiles(list: Record<string, LockProfile>[]): Record<string, LockProfile> {
  const out: Record<string, LockProfile> = {};
  for (const prof of list) {
    for (const [k, p] of Object.entries(prof)) {
      const o = (out[k] ??= { attempts: 0, busy: 0, attemptMs: 0, acquired: 0, holdMs: 0, releaseMs: 0 });
      for (const f of Object.keys(o) as (keyof LockProfile)[]) o[f] += p[f];
    }
  }
  return out;
}
