/**
 * The agent side of an MCP server process: what the pi extension does for pi,
 * done from outside the host. It keeps the agent's presence (heartbeat, busy
 * while a team tool runs, idle while it waits for mail), greets the lead once
 * (teammates), obeys an approved shutdown (ends its host when told to, at a
 * moment no team tool is running) and, in the lead, sweeps dead teammates'
 * tasks back to pending, for every team the lead works with.
 */
import type { Ctx } from "../../context.js";
import { sendMessage, unreadPeek, markRead } from "../../domain/messages.js";
import { HEARTBEAT_EVERY_MS, recoverAbandoned, writePresence } from "../../domain/presence.js";
import { listTasks } from "../../domain/tasks.js";
import { findMember, readTeam } from "../../domain/teams.js";
import { LEAD_NAME } from "../../names.js";
import type { Runtime } from "../../schemas.js";
import type { Identity } from "./identity.js";

const SWEEP_MS = 2_000;

export interface AgentOptions {
  /** The pid presence records: the host process for a stdio server (our parent), else our own. */
  pid: number;
  /** End the host (SIGTERM to `pid`) when the lead approves our shutdown: only for hosts we were started for. */
  stopHost: boolean;
  /** Called once we are done (shutdown approved, host gone): the process exits after it. */
  onExit(): void;
}

/** Lifetime state of one MCP-served agent. */
export class AgentSession {
  readonly teams = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private unwatch: Array<() => void> = [];
  private inflight = 0;
  private state: Runtime["state"] = "starting";
  private client?: string;
  private greeted = false;
  private shutdownWanted = false;
  private stopped = false;

  constructor(readonly id: Identity, private readonly ctxFor: () => Ctx, private readonly opts: AgentOptions) {}

  /** Starts heartbeats (and the sweep, for the lead); a teammate also watches for a shutdown request. */
  async start(): Promise<void> {
    const every = (ms: number, fn: () => void) => { const t = setInterval(fn, ms); t.unref(); this.timers.push(t); };
    every(heartbeatMs(this.ctxFor().env), () => void this.presence({}));
    if (this.id.role === "lead") {
      if (this.id.team) await this.track(this.id.team);
      every(SWEEP_MS, () => { for (const t of this.teams) void recoverAbandoned(this.ctxFor(), t).catch(() => undefined); });
      return;
    }
    const team = this.id.team!;
    this.teams.add(team);
    await this.presence({ state: "starting", startedAt: new Date().toISOString() });
    try {
      this.unwatch.push(this.ctxFor().store.watch(team, { inbox: this.id.actor }, () => void this.checkShutdown()));
    } catch { /* the heartbeat's check below still sees it */ }
    every(5_000, () => void this.checkShutdown());
    void this.checkShutdown();
  }

  /** The MCP client said who it is (e.g. claude-code 2.1.0): recorded in presence; a teammate greets its lead. */
  async noteClient(info: { name?: string; version?: string } | undefined): Promise<void> {
    this.client = info?.name ? `${info.name}${info.version ? ` ${info.version}` : ""}` : undefined;
    if (this.state === "starting") this.state = "idle";
    await this.presence({ state: this.state });
    if (this.id.role !== "teammate" || this.greeted) return;
    this.greeted = true;
    const via = this.client ? `${this.client}, ` : "";
    await sendMessage(this.ctxFor(), this.id.team!, {
      recipient: LEAD_NAME, summary: `${this.id.actor} started`, kind: "teammate_started",
      content: `${this.id.actor} is up (${via}pid ${this.opts.pid}, over MCP).`,
    }).catch(() => undefined); // not a member (any more): the lead sees the presence
  }

  /** A team tool starts: busy, except while waiting for mail (idle). */
  beforeCall(tool: string): void {
    this.inflight++;
    this.setState(tool === "wait_for_mail" ? "idle" : "busy");
  }

  /** A team tool ended: the lead starts tracking teams it touched; mail that carried a shutdown request ends us. */
  async afterCall(tool: string, args: unknown, details?: Record<string, unknown>): Promise<void> {
    this.inflight--;
    if (tool === "wait_for_mail") this.setState("busy"); // it returned: the model works on what it got
    const team = (args as { team_name?: unknown } | undefined)?.team_name;
    if (this.id.role === "lead" && typeof team === "string") {
      if (tool === "team_delete") this.teams.delete(team);
      else if (!this.teams.has(team)) await this.track(team).catch(() => undefined);
    }
    if (details?.shutdown === true) this.shutdownWanted = true;
    this.maybeShutdown();
  }

  /** Sets the presence state now (hooks report idle/busy through the CLI; this covers tool calls). */
  setState(state: Runtime["state"]): void {
    if (this.state === state) return;
    this.state = state;
    void this.presence({ state });
  }

  /** Marks the agent stopped and stops every timer and watcher. Idempotent. */
  async stop(error?: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unwatch) { try { u(); } catch { /* closed */ } }
    await this.presence({ state: "stopped", ...(error ? { error } : {}) }, true);
  }

  /** Sync presence write for a process `exit` handler (JSON store only; others rely on the pid and the lease). */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    let store;
    try { store = this.ctxFor().store; } catch { return; }
    for (const team of this.presenceTeams()) {
      try { store.presenceOnExit?.(team, this.id.actor, { pid: this.opts.pid, state: "stopped" }); } catch { /* best effort */ }
    }
  }

  private presenceTeams(): string[] {
    return [...this.teams];
  }

  private async track(team: string): Promise<void> {
    const ctx = this.ctxFor();
    if (!findMember(await readTeam(ctx, team), LEAD_NAME)) return;
    this.teams.add(team);
    if (this.state === "starting") this.state = "idle";
    await this.presence({ state: this.state, startedAt: new Date().toISOString() }, false, team);
  }

  private async presence(patch: Partial<Runtime>, force = false, only?: string): Promise<void> {
    if (this.stopped && !force) return;
    for (const team of only ? [only] : this.presenceTeams()) {
      try {
        const ctx = this.ctxFor();
        const current = (await listTasks(ctx, team)).find((t) => t.owner === this.id.actor && (t.status === "in_progress" || t.status === "planning"));
        await writePresence(ctx, team, this.id.actor, {
          pid: this.opts.pid, pane: ctx.env.TMUX_PANE ?? ctx.env.WEZTERM_PANE ?? ctx.env.ZELLIJ_PANE_ID, currentTask: current?.id,
          ...(this.client ? { client: this.client } : {}), ...patch,
        });
      } catch { /* the team may be gone; never crash the server */ }
    }
  }

  /** Takes a shutdown request out of the inbox (only those: other mail waits for wait_for_mail or a hook). */
  private async checkShutdown(): Promise<void> {
    if (this.stopped || this.shutdownWanted) return;
    const team = this.id.team!;
    try {
      const ctx = this.ctxFor();
      const ids = (await unreadPeek(ctx, team, this.id.actor)).filter((m) => m.kind === "shutdown_request").map((m) => m.id);
      if (!ids.length) return;
      await markRead(ctx, team, this.id.actor, ids);
      this.shutdownWanted = true;
      await this.presence({ shutdownRequested: true });
      this.maybeShutdown();
    } catch { /* team gone */ }
  }

  /** Ends the host once no team tool is running (a model mid-call is not cut off inside our tool). */
  private maybeShutdown(): void {
    if (!this.shutdownWanted || this.inflight > 0 || this.stopped) return;
    void (async () => {
      await this.stop();
      if (this.opts.stopHost && this.opts.pid !== process.pid) await endHost(this.opts.pid);
      this.opts.onExit();
    })();
  }
}

/** SIGTERM, and SIGKILL when the host is still there after HOST_GRACE_MS (a host busy in a hook may not get to exit). */
async function endHost(pid: number): Promise<void> {
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  try { process.kill(pid, "SIGTERM"); } catch { return; }
  const end = Date.now() + HOST_GRACE_MS;
  while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive()) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
}

const HOST_GRACE_MS = 5_000;

function heartbeatMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.CLANKER_TEAMS_HEARTBEAT_MS);
  return Number.isFinite(v) && v >= 50 ? v : HEARTBEAT_EVERY_MS;
}
