/**
 * Presence: each running agent keeps teams/<team>/runtime/<agent>.json fresh
 * (pid, host, state, heartbeat). Liveness and the lease sweep read it: a
 * claim holds while its owner lives, and a dead owner's work goes back to
 * pending.
 */
import fs from "node:fs";
import os from "node:os";
import type { Ctx } from "./context.js";
import { flushEvents } from "./events.js";
import { RuntimeSchema, parseWith, type Runtime } from "./schemas.js";
import { readJson, writeJson } from "./store/json-file.js";
import { withLock } from "./store/lock.js";
import { releaseTasksOf, listTasks } from "./tasks.js";
import type { Task } from "./schemas.js";

/** A heartbeat older than this means the owner is dead (when its pid cannot be checked). */
export const HEARTBEAT_DEAD_MS = 30_000;
/** Older than this (but not dead) shows as "stalled". */
export const HEARTBEAT_STALL_MS = 15_000;
/** How often a running agent refreshes its presence. */
export const HEARTBEAT_EVERY_MS = 5_000;

const checkRuntime = (v: unknown) => parseWith(RuntimeSchema, v, "presence file");

export function hostName(): string {
  return os.hostname();
}

/** Reads an agent's presence file (undefined when it never ran; a corrupt one counts as absent). */
export function readPresence(ctx: Ctx, team: string, agent: string): Runtime | undefined {
  try {
    return readJson(ctx.paths.runtimeFile(team, agent), checkRuntime);
  } catch {
    return undefined;
  }
}

/** Writes (merges) an agent's presence under its lock. */
export async function writePresence(ctx: Ctx, team: string, agent: string, patch: Partial<Runtime>): Promise<Runtime> {
  const file = ctx.paths.runtimeFile(team, agent);
  return withLock(file, () => {
    let cur: Runtime | undefined;
    try { cur = readJson(file, checkRuntime); } catch { cur = undefined; }
    const now = ctx.now();
    const next: Runtime = {
      agent, pid: process.pid, host: hostName(), state: "starting", startedAt: now, heartbeatAt: now,
      ...cur, ...patch,
    };
    writeJson(file, next, { fsync: false });
    return next;
  });
}

/** Removes an agent's presence file. */
export function removePresence(ctx: Ctx, team: string, agent: string): void {
  try { fs.unlinkSync(ctx.paths.runtimeFile(team, agent)); } catch { /* none */ }
}

/** True when a pid exists on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True when the process now holding the presence's pid started after the
 * agent did (Linux: /proc/<pid>/stat start time against the boot time): the
 * agent died and its pid was given to another process. False when unknown
 * (another OS, or a presence time from before this boot, as with test clocks).
 */
function pidReused(rt: Runtime): boolean {
  const boot = bootTimeMs();
  if (boot === undefined || !(rt.startedAt > boot)) return false;
  const start = processStartMs(rt.pid, boot);
  return start !== undefined && start > rt.startedAt + PID_START_SLACK_MS;
}

/** Start times are in clock ticks and the boot time in whole seconds: allow for both. */
const PID_START_SLACK_MS = 5000;
/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS_PER_S = 100;
let bootMs: number | null | undefined;

function bootTimeMs(): number | undefined {
  if (bootMs === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"));
      bootMs = m ? Number(m[1]) * 1000 : null;
    } catch {
      bootMs = null;
    }
  }
  return bootMs ?? undefined;
}

function processStartMs(pid: number, boot: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the 3rd field of the line, starttime the 22nd.
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isFinite(ticks) ? boot + (ticks * 1000) / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

export type Liveness = { alive: boolean; state: "starting" | "idle" | "busy" | "error" | "stalled" | "dead" | "stopped" | "unknown"; reason: string };

/**
 * Judges an agent from its presence: dead if stopped, its pid is gone on this host, or its heartbeat is
 * older than 30 s; "error" while it runs but its model fails (the reason says why).
 */
export function liveness(rt: Runtime | undefined, now: number, host = hostName()): Liveness {
  if (!rt) return { alive: false, state: "unknown", reason: "no presence file (never started, or not running the extension)" };
  const lastError = rt.error ? `; its last error: ${rt.error}` : "";
  if (rt.state === "stopped") return { alive: false, state: "stopped", reason: rt.error ? `exited: ${rt.error}` : "exited cleanly" };
  const age = now - rt.heartbeatAt;
  if (rt.host === host && !pidAlive(rt.pid)) return { alive: false, state: "dead", reason: `process ${rt.pid} is gone${lastError}` };
  if (rt.host === host && pidReused(rt)) return { alive: false, state: "dead", reason: `process ${rt.pid} is gone (that pid now belongs to a newer process)${lastError}` };
  if (age > HEARTBEAT_DEAD_MS) return { alive: false, state: "dead", reason: `no heartbeat for ${Math.round(age / 1000)} s${lastError}` };
  if (age > HEARTBEAT_STALL_MS) return { alive: true, state: "stalled", reason: `no heartbeat for ${Math.round(age / 1000)} s${lastError}` };
  if (rt.state === "error") return { alive: true, state: "error", reason: `its model fails: ${rt.error ?? "unknown error"}` };
  return { alive: true, state: rt.state, reason: `heartbeat ${Math.max(0, Math.round(age / 1000))} s ago` };
}

/**
 * The lease sweep: owners with unfinished tasks whose presence says dead get
 * their tasks put back to pending. Owners with no presence file at all (a
 * human at the CLI, an agent without the extension) are left alone.
 */
export async function recoverAbandoned(ctx: Ctx, team: string): Promise<{ owner: string; reason: string; tasks: Task[] }[]> {
  // Also numbers events a killed drainer left queued, so none waits long for the next writer.
  try { flushEvents(ctx, team); } catch { /* the next writer or reader will */ }
  const owners = new Set(listTasks(ctx, team).filter((t) => t.owner && (t.status === "in_progress" || t.status === "planning" || t.status === "pending")).map((t) => t.owner!));
  const out: { owner: string; reason: string; tasks: Task[] }[] = [];
  for (const owner of owners) {
    const rt = readPresence(ctx, team, owner);
    if (!rt) continue;
    const l = liveness(rt, ctx.now());
    if (l.alive) continue;
    const reason = `${owner} is ${l.state === "stopped" ? "stopped" : "dead"} (${l.reason})`;
    const tasks = await releaseTasksOf(ctx, team, owner, reason);
    if (tasks.length) out.push({ owner, reason, tasks });
  }
  return out;
}
