/**
 * Presence: each running agent keeps its presence fresh (pid, host, session,
 * state, heartbeat stamped by the store's clock). Liveness and the lease sweep
 * read it: a claim holds while its owner lives, and a dead owner's work goes
 * back to pending (its session fenced off it, see tasks.ts).
 *
 * Across hosts nothing but the heartbeat counts (the store's clock judges
 * its age); on the agent's own host a gone pid counts at once.
 */
import fs from "node:fs";
import os from "node:os";
import type { Ctx } from "../context.js";
import { timeMs, type Runtime, type Task } from "../schemas.js";
import { FINISHED, releaseTasksOf } from "./tasks.js";
import { sweepCoordination } from "./sweep.js";

/** A heartbeat older than this means the owner is dead (the lease; CLANKER_TEAMS_LEASE_MS overrides, within 40 s by default). */
export const HEARTBEAT_DEAD_MS = 30_000;
/** Older than this (but not dead) shows as "stalled". */
export const HEARTBEAT_STALL_MS = 15_000;
/** How often a running agent refreshes its presence. */
export const HEARTBEAT_EVERY_MS = 5_000;

/** The lease: how long a silent agent keeps its claims. */
export function leaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.CLANKER_TEAMS_LEASE_MS);
  return Number.isFinite(v) && v >= 1000 ? v : HEARTBEAT_DEAD_MS;
}

/** This host's name, as presence records it (CLANKER_TEAMS_HOST overrides, e.g. for several "hosts" on one machine). */
export function hostName(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLANKER_TEAMS_HOST?.trim() || os.hostname();
}

/** An agent's presence (undefined when it never ran). */
export async function readPresence(ctx: Ctx, team: string, agent: string): Promise<Runtime | undefined> {
  return ctx.store.getPresence(team, agent);
}

/** Writes (merges) the calling process's presence for `agent`: pid and host are this process's. */
export async function writePresence(ctx: Ctx, team: string, agent: string, patch: Partial<Runtime>): Promise<Runtime> {
  return ctx.store.putPresence(team, agent, { pid: process.pid, host: hostName(ctx.env), ...(ctx.session ? { session: ctx.session } : {}), ...patch });
}

/** Removes an agent's presence. */
export async function removePresence(ctx: Ctx, team: string, agent: string): Promise<void> {
  await ctx.store.removePresence(team, agent);
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
  const started = timeMs(rt.startedAt);
  if (boot === undefined || !(started > boot)) return false;
  const start = processStartMs(rt.pid, boot);
  return start !== undefined && start > started + PID_START_SLACK_MS;
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
 * Judges an agent from its presence and the store's clock: dead if stopped,
 * its pid is gone on this host, or its heartbeat is older than the lease;
 * "error" while it runs but its model fails (the reason says why).
 */
export function liveness(rt: Runtime | undefined, now: number, opts: { host?: string; leaseMs?: number } = {}): Liveness {
  if (!rt) return { alive: false, state: "unknown", reason: "no presence (never started, or not running the extension)" };
  const host = opts.host ?? hostName();
  const lease = opts.leaseMs ?? leaseMs();
  const lastError = rt.error ? `; its last error: ${rt.error}` : "";
  if (rt.state === "stopped") return { alive: false, state: "stopped", reason: rt.error ? `exited: ${rt.error}` : "exited cleanly" };
  const age = now - timeMs(rt.heartbeatAt);
  const where = rt.host === host ? "" : ` on ${rt.host}`;
  if (rt.host === host && !pidAlive(rt.pid)) return { alive: false, state: "dead", reason: `process ${rt.pid} is gone${lastError}` };
  if (rt.host === host && pidReused(rt)) return { alive: false, state: "dead", reason: `process ${rt.pid} is gone (that pid now belongs to a newer process)${lastError}` };
  if (!(age <= lease)) return { alive: false, state: "dead", reason: `no heartbeat${where} for ${Number.isFinite(age) ? Math.round(age / 1000) : "?"} s${lastError}` };
  if (age > Math.min(HEARTBEAT_STALL_MS, lease / 2)) return { alive: true, state: "stalled", reason: `no heartbeat${where} for ${Math.round(age / 1000)} s${lastError}` };
  if (rt.state === "error") return { alive: true, state: "error", reason: `its model fails: ${rt.error ?? "unknown error"}` };
  return { alive: true, state: rt.state, reason: `heartbeat${where} ${Math.max(0, Math.round(age / 1000))} s ago` };
}

/** Liveness judged by this context's store clock and lease. */
export async function livenessOf(ctx: Ctx, rt: Runtime | undefined): Promise<Liveness> {
  return liveness(rt, await ctx.store.now(), { host: hostName(ctx.env), leaseMs: leaseMs(ctx.env) });
}

/**
 * The lease sweep: owners of unfinished tasks whose presence says dead get
 * their tasks put back to pending (their session fenced off them); with it,
 * the coordination sweep (sweep.ts). Owners with
 * no presence at all (a human at the CLI, an agent without the extension) are
 * left alone.
 */
export async function recoverAbandoned(ctx: Ctx, team: string): Promise<{ owner: string; reason: string; tasks: Task[] }[]> {
  await sweepCoordination(ctx, team); // dead holders' reservations, votes past their deadline
  const owners = new Set((await ctx.store.listTasks(team)).filter((t) => t.owner && !FINISHED.has(t.status)).map((t) => t.owner!));
  const out: { owner: string; reason: string; tasks: Task[] }[] = [];
  if (!owners.size) return out;
  const now = await ctx.store.now();
  for (const owner of owners) {
    const rt = await ctx.store.getPresence(team, owner);
    if (!rt) continue;
    const l = liveness(rt, now, { host: hostName(ctx.env), leaseMs: leaseMs(ctx.env) });
    if (l.alive) continue;
    const reason = `${owner} is ${l.state === "stopped" ? "stopped" : "dead"} (${l.reason})`;
    const tasks = await releaseTasksOf(ctx, team, owner, reason);
    if (tasks.length) out.push({ owner, reason, tasks });
  }
  return out;
}
