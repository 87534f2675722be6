/**
 * The pi / clanker extension: registers the team tools, tells a teammate who
 * it is on every turn, delivers inbox messages into the conversation the
 * moment they arrive (the store's change notification + 30 s poll), keeps its presence fresh,
 * enforces plan mode and file reservations (reservation-gate.ts), reports failed model calls (presence state "error",
 * one message to the lead), counts its model usage against budgets (a teammate
 * over budget stops after its current turn), runs the teammate_idle hook when a
 * teammate goes idle, and (in the lead) sweeps dead teammates' tasks and nudges
 * stuck ones. A lead that starts in a project whose teams it led (a restart)
 * takes them up again: their mail is delivered, once.
 *
 * Host imports are type-only, so one file serves pi 0.55 (clanker's base),
 * pi 0.73 and the clanker fork. Extension-API behaviour this relies on is
 * pinned down in docs/testing-with-pi.md.
 *
 * Environment: CLANKER_TEAM_NAME + CLANKER_AGENT_NAME make a teammate (else the
 * lead); CLANKER_PLAN_MODE_REQUIRED=1, CLANKER_AGENT_MODEL (set by
 * spawn_teammate); CLANKER_TEAMS_HEARTBEAT_MS overrides the 5 s heartbeat,
 * CLANKER_TEAMS_GREET_WAIT_MS the 15 s GREET_WAIT_MS (tests; it is also how long a
 * restarted agent without a prompt waits before its mail starts a run).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { makeCtx, newSession, type Ctx } from "../context.js";
import { runCompletionHook } from "../agents/hooks.js";
import { idleFeedback, MAX_IDLE_FEEDBACK, runIdleHook } from "../agents/idle-hook.js";
import { budgetStopReason, recordUsage, usageOfMessage } from "../domain/budgets.js";
import { sweepStuck } from "../domain/stuck.js";
import { releaseTasksOf } from "../domain/tasks.js";
import { livenessOf } from "../domain/presence.js";
import { repoRoot } from "../repo.js";
import { markRead, sendMessage, unreadCount, unreadPeek } from "../domain/messages.js";
import { HEARTBEAT_EVERY_MS, recoverAbandoned, writePresence } from "../domain/presence.js";
import { getTask, listTasks } from "../domain/tasks.js";
import { findMember, readTeam } from "../domain/teams.js";
import { jsonSchema } from "../tools/define.js";
import { callTool, toolsFor } from "../tools/table.js";
import { LEAD_NAME } from "../names.js";
import type { Message } from "../schemas.js";
import { classifyModelError, hintFor, oneLine, type ModelFailure } from "./model-errors.js";
import { reservationGate } from "./reservation-gate.js";
import { autoReserveOn, listReservations } from "../domain/reservations.js";

export const POLL_MS = 30_000;
/** A teammate greets the lead when its first model call answers or fails; after this long without either, it greets anyway. */
export const GREET_WAIT_MS = 15_000;
const SWEEP_MS = 2_000;
const MUTATING_TOOLS = new Set(["edit", "write", "bash"]);

type TimerKind = "poll" | "heartbeat" | "sweep";

/** Live resources of every extension instance in this process (tests read them after /reload). */
export interface LiveCounts { loads: number; instances: number; watchers: number; poll: number; heartbeat: number; sweep: number }

interface Instance { started: boolean; dispose(): void }

/**
 * What outlives one extension instance: pi re-runs the factory on /reload
 * (and on a new session), and a package may be loaded twice in one process.
 */
interface ProcessState {
  /** The instance that owns the timers and watchers now. */
  current?: Instance;
  /** An agent run has started in this process: deliveries may begin (never before the initial prompt). */
  runSeen: boolean;
  /** team/agent pairs that already told the lead they started. */
  greeted: Set<string>;
  /** Teams this lead process works with (survive /reload). */
  leadTeams: Set<string>;
  /** Teams this process keeps a presence in: marked stopped on exit. */
  presenceTeams: Set<string>;
  /** This process's session: claims record it, fencing refers to it (see domain/tasks.ts). */
  session: string;
  exitHook: boolean;
  /** The model's last failure; cleared by the next call that succeeds. */
  modelError?: ModelFailure;
  /** Key of the failure the lead was told about; cleared on recovery, so the next failure is news again. */
  toldLead?: string;
  /** The error pi is crashing with (seen by uncaughtExceptionMonitor), for the presence file. */
  fatal?: string;
  /** Why this teammate must stop (its or the team's budget is used up): it stops after its current turn. */
  budgetStop?: string;
  /** The budget stop is done: presence says "stopped" from now on. */
  stopped?: boolean;
  /** Since when (store clock, ISO) the agent has been idle; null while a run goes on. */
  idleSince?: string | null;
  /** teammate_idle hook feedback rounds in a row; reset by a run the hook did not start. */
  idleFeedback: number;
  /** The next run is the idle hook's feedback. */
  hookRunPending?: boolean;
  /** Idle-hook failures the lead was told about (outcome/exit). */
  toldHook: Set<string>;
  live: LiveCounts;
}

const STATE = Symbol.for("clanker-teams.process");
type G = typeof globalThis & { [STATE]?: ProcessState; __clankerTeamsDebug?: () => LiveCounts & { teams: string[] } };

function processState(): ProcessState {
  const g = globalThis as G;
  return (g[STATE] ??= {
    runSeen: false, greeted: new Set(), leadTeams: new Set(), presenceTeams: new Set(), exitHook: false, session: newSession(), idleFeedback: 0, toldHook: new Set(),
    live: { loads: 0, instances: 0, watchers: 0, poll: 0, heartbeat: 0, sweep: 0 },
  });
}

/**
 * pi emits no session_shutdown when killed by SIGTERM/SIGHUP (a closed pane): mark our presence stopped on
 * any exit, saying why when the exit was not clean (pi 0.55 crashes when a provider throws).
 */
function installExitHook(ps: ProcessState, ctxFor: () => Ctx, actor: string): void {
  if (ps.exitHook) return;
  ps.exitHook = true;
  // A monitor only observes: pi's own handling of the error is unchanged.
  process.on("uncaughtExceptionMonitor", (err) => { ps.fatal = oneLine(err instanceof Error ? err.message : String(err)); });
  process.on("exit", (code) => {
    const why = code === 0 ? undefined : ps.fatal ? `pi crashed (exit code ${code}): ${ps.fatal}` : `exit code ${code}${ps.modelError ? ` after its model failed: ${ps.modelError.reason}` : ""}`;
    // Synchronous, through the store (stores that cannot write at exit rely on the pid check and the lease).
    let store;
    try { store = ctxFor().store; } catch { return; }
    for (const team of ps.presenceTeams) {
      try { store.presenceOnExit?.(team, actor, { pid: process.pid, state: "stopped", error: why }); } catch { /* best effort */ }
    }
  });
}

/** Finds templates/ whether we run from dist/src/hosts or src/hosts. */
function templatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ["../../templates", "../../../templates"]) {
    const d = path.resolve(here, rel);
    if (fs.existsSync(path.join(d, "teammate.md"))) return d;
  }
  return path.resolve(here, "../../../templates");
}

function render(file: string, vars: Record<string, string>): string {
  let text = "";
  try { text = fs.readFileSync(path.join(templatesDir(), file), "utf8"); } catch { return ""; }
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => vars[k] ?? "");
}

/** Formats delivered messages as one user message. */
export function formatDelivery(team: string, msgs: Message[]): string {
  const head = `[clanker-teams] ${msgs.length} new message${msgs.length > 1 ? "s" : ""} in team "${team}" (already marked read):`;
  return [head, ...msgs.map((m) => `--- From ${m.from} (${m.timestamp.slice(11, 19)}) — ${m.summary}\n${m.content}`)].join("\n\n");
}

function greetWaitMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.CLANKER_TEAMS_GREET_WAIT_MS);
  return Number.isFinite(v) && v >= 50 ? v : GREET_WAIT_MS;
}

function heartbeatMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.CLANKER_TEAMS_HEARTBEAT_MS);
  return Number.isFinite(v) && v >= 50 ? v : HEARTBEAT_EVERY_MS;
}

export default function clankerTeams(pi: ExtensionAPI): void {
  const ps = processState();
  ps.live.loads++; // factory calls, duplicates included (tests)
  // A second copy in the same load (package installed and -e): register nothing twice.
  if (ps.current && !ps.current.started) return;
  const prev = ps.current;
  const env = process.env;
  const myTeam = env.CLANKER_TEAM_NAME?.trim() || undefined;
  const myName = env.CLANKER_AGENT_NAME?.trim() || undefined;
  const role = myTeam && myName && myName !== LEAD_NAME ? "teammate" : "lead";
  const actor = role === "teammate" ? myName! : LEAD_NAME;

  let cwd = process.cwd();
  let lastCtx: ExtensionContext | undefined;
  let busy = false;
  /** Between agent_end and one macrotask later: pi 0.73 strands a follow-up sent then. */
  let ending = false;
  let shutdownWanted = false;
  let greetTimer: NodeJS.Timeout | undefined;
  let resumeTimer: NodeJS.Timeout | undefined;
  let stoppingForBudget = false;
  let accounting: Promise<void> = Promise.resolve();
  /** Deliveries into the conversation so far (the idle hook skips a turn end that mail answers). */
  let delivered = 0;
  const sweeping = new Set<string>();
  let shutdownCalled = false;
  let disposed = false;
  const teams = new Set<string>();
  const watchers = new Map<string, () => void>();
  const delivering = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const timers: Array<{ t: NodeJS.Timeout; kind: TimerKind }> = [];
  const ctxFor = (): Ctx => makeCtx({ actor, cwd, runHook: runCompletionHook, session: ps.session });

  const instance: Instance = {
    started: false,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const { t, kind } of timers) { clearInterval(t); ps.live[kind]--; }
      if (greetTimer) clearTimeout(greetTimer);
      if (resumeTimer) clearTimeout(resumeTimer);
      timers.length = 0;
      for (const team of [...watchers.keys()]) unwatch(team);
      if (ps.current === instance) ps.current = undefined;
      ps.live.instances--;
      // Presence is not marked stopped here: on /reload the next instance takes over at once (a
      // "stopped" in between would let the lead's sweep release our tasks); the exit hook marks a real exit.
    },
  };
  ps.current = instance;
  ps.live.instances++;
  installExitHook(ps, ctxFor, actor);

  (globalThis as G).__clankerTeamsDebug = () => ({ ...ps.live, teams: [...(ps.current === instance ? teams : [])] });

  function every(kind: TimerKind, ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref?.();
    timers.push({ t, kind });
    ps.live[kind]++;
  }

  /** Teams whose presence file this process keeps. */
  function presenceTeams(): string[] {
    return role === "teammate" ? [myTeam!] : [...teams];
  }

  async function presence(patch: Record<string, unknown>, only?: string): Promise<void> {
    for (const team of only ? [only] : presenceTeams()) {
      try {
        const ctx = ctxFor();
        const current = (await listTasks(ctx, team)).find((t) => t.owner === actor && (t.status === "in_progress" || t.status === "planning"));
        await writePresence(ctx, team, actor, { pane: env.TMUX_PANE ?? env.WEZTERM_PANE ?? env.ZELLIJ_PANE_ID, currentTask: current?.id, error: ps.modelError?.reason, idleSince: busy ? null : ps.idleSince ?? null, ...patch, ...(ps.stopped ? { state: "stopped" as const, error: `stopped: ${ps.budgetStop}` } : {}) });
        ps.presenceTeams.add(team);
        if (team === (myTeam ?? [...teams][0])) await updateStatusLine(current?.id);
      } catch { /* the team may be gone; never crash the host */ }
    }
  }

  /** "error" from a failed model call until one succeeds, whether or not pi is retrying. */
  function stateNow(): "error" | "busy" | "idle" | "stopped" {
    return ps.stopped ? "stopped" : ps.modelError ? "error" : busy ? "busy" : "idle";
  }

  async function updateStatusLine(taskId?: string): Promise<void> {
    const team = myTeam ?? [...teams][0];
    if (!team || !lastCtx?.hasUI) return;
    try {
      const unread = await unreadCount(ctxFor(), team, actor);
      lastCtx.ui.setStatus("clanker-teams", `team ${team} · ${actor}${unread ? ` · ${unread} unread` : ""}${taskId ? ` · task #${taskId}` : ""}`);
    } catch { /* status is cosmetic */ }
  }

  /** Delivers unread mail of one team into the conversation, then marks exactly those read; single-flight per team. */
  function deliver(team: string): Promise<void> {
    // A teammate over budget takes no more work: its mail stays unread (for whoever takes its place).
    if (disposed || ending || ps.budgetStop) return Promise.resolve();
    // Before the first run (the initial prompt, which never starts when the model has no key) mail waits, but a
    // shutdown request is obeyed at once: the lead must not wait out its grace period for a teammate that cannot work.
    if (!ps.runSeen) return role === "teammate" ? obeyShutdown(team) : Promise.resolve();
    const running = delivering.get(team);
    if (running) { again.add(team); return running; }
    const p = (async () => {
      do {
        again.delete(team);
        if (ending || disposed) break; // agent_end's deferred flush picks these up
        const ctx = ctxFor();
        let msgs: Message[];
        try { msgs = await unreadPeek(ctx, team, actor); } catch { return; }
        if (!msgs.length) continue;
        const shutdown = msgs.filter((m) => m.kind === "shutdown_request" && role === "teammate");
        const rest = msgs.filter((m) => !shutdown.includes(m));
        try {
          if (rest.length) { pi.sendUserMessage(formatDelivery(team, rest), { deliverAs: "followUp" }); delivered++; }
        } catch { return; } // a stale instance (after reload): leave them unread for the current one
        await markRead(ctx, team, actor, msgs.map((m) => m.id)).catch(() => undefined);
        if (shutdown.length) requestShutdown();
      } while (again.has(team) && !disposed);
      await updateStatusLine();
    })().finally(() => delivering.delete(team));
    delivering.set(team, p);
    return p;
  }

  /** Takes only shutdown requests from the inbox and shuts down if there is one. */
  async function obeyShutdown(team: string): Promise<void> {
    try {
      const ctx = ctxFor();
      const ids = (await unreadPeek(ctx, team, actor)).filter((m) => m.kind === "shutdown_request").map((m) => m.id);
      if (!ids.length) return;
      await markRead(ctx, team, actor, ids).catch(() => undefined);
      requestShutdown();
    } catch { /* the team may be gone */ }
  }

  function deliverAll(): void {
    for (const t of teams) void deliver(t);
  }

  /** The lead approved our shutdown: let the current turn finish, then exit. */
  function requestShutdown(): void {
    shutdownWanted = true;
    void presence({ shutdownRequested: true });
    if (!busy) shutdownNow();
  }

  function shutdownNow(): void {
    if (shutdownCalled || !lastCtx) return;
    shutdownCalled = true;
    try { lastCtx.shutdown(); } catch { /* stale context */ }
  }

  function watch(team: string): void {
    if (teams.has(team) || disposed) return;
    teams.add(team);
    if (role === "lead") ps.leadTeams.add(team);
    try {
      watchers.set(team, ctxFor().store.watch(team, { inbox: actor }, () => void deliver(team)));
      ps.live.watchers++;
    } catch { /* polling still delivers */ }
    void deliver(team);
  }

  /** Stops watching a team's inbox (forget: also stop delivering and heartbeating for it). */
  function unwatch(team: string, forget = true): void {
    const stop = watchers.get(team);
    if (stop) {
      watchers.delete(team);
      ps.live.watchers--;
      try { stop(); } catch { /* closed */ }
    }
    if (forget) teams.delete(team);
  }

  // ---- tools ----
  for (const tool of toolsFor(role)) {
    pi.registerTool({
      name: tool.name,
      label: tool.label,
      description: tool.description,
      parameters: jsonSchema(tool) as never,
      async execute(_id: string, params: unknown, _signal: AbortSignal | undefined, _onUpdate: unknown, ectx: ExtensionContext) {
        if (ectx?.cwd) cwd = ectx.cwd;
        const r = await callTool(ctxFor(), tool.name, params);
        const team = (params as { team_name?: unknown })?.team_name;
        if (role === "lead" && typeof team === "string" && tool.name !== "team_delete" && !teams.has(team)) {
          try {
            if (findMember(await readTeam(ctxFor(), team), LEAD_NAME)) { watch(team); void presence({ state: stateNow(), startedAt: new Date().toISOString() }, team); }
          } catch { /* not a team */ }
        }
        if (tool.name === "team_delete" && typeof team === "string") { unwatch(team); ps.leadTeams.delete(team); }
        return { content: [{ type: "text" as const, text: r.text }], details: r.details };
      },
    } as never);
  }

  // ---- lifecycle ----
  async function start(ctx: ExtensionContext): Promise<void> {
    lastCtx = ctx;
    if (ctx.cwd) cwd = ctx.cwd;
    if (instance.started || disposed) return;
    instance.started = true;
    if (prev && prev !== instance) prev.dispose(); // a reload whose session_shutdown we did not see
    ps.current = instance;
    every("poll", POLL_MS, deliverAll);
    every("heartbeat", heartbeatMs(env), () => {
      void presence({ state: stateNow() });
      if (role === "teammate") void checkBudget();
    });
    if (role === "teammate") {
      watch(myTeam!);
      if (!busy && ps.idleSince === undefined) ps.idleSince = await storeIso();
      await presence({ state: ps.modelError ? "error" : "starting", startedAt: new Date().toISOString() });
      await checkBudget();
      if (greetPending()) {
        // The greeting waits for the first model call's outcome (it must not say "working" when the model fails).
        greetTimer = setTimeout(() => void greet("waiting"), greetWaitMs(env));
        greetTimer.unref?.();
      }
    }
    // pi checks the key only when a prompt starts and then fails before any event we see: check it now.
    const noKey = missingAuth(ctx);
    if (noKey) modelFailed(noKey);
    if (role === "lead") {
      if (myTeam) ps.leadTeams.add(myTeam);
      const resumed = await adoptTeams();
      for (const t of ps.leadTeams) watch(t);
      if (teams.size) await presence({ state: stateNow() });
      every("sweep", SWEEP_MS, () => {
        for (const t of teams) void sweep(t);
      });
      if (resumed.length) openDeliveryAfterWait();
    } else {
      openDeliveryAfterWait();
    }
  }

  /** The store's clock as an ISO time (presence times are judged by it). */
  async function storeIso(): Promise<string> {
    try { return new Date(await ctxFor().store.now()).toISOString(); } catch { return new Date().toISOString(); }
  }

  /**
   * An agent started without a prompt (a restart, /resume in a new process) gets its
   * waiting mail once no run has started for a while; an initial prompt always runs first.
   */
  function openDeliveryAfterWait(): void {
    if (ps.runSeen || resumeTimer) return;
    resumeTimer = setTimeout(() => {
      if (disposed || ps.runSeen) return;
      ps.runSeen = true;
      deliverAll();
    }, greetWaitMs(env));
    resumeTimer.unref?.();
  }

  /**
   * A lead that starts where it led teams before (a crash, a new session, a new
   * process) takes them up again: teams whose lead worked in this repository
   * (or directory), unless another live lead process has them. Returns them.
   */
  async function adoptTeams(): Promise<string[]> {
    const adopted: string[] = [];
    try {
      const ctx = ctxFor();
      const here = repoRoot(cwd);
      for (const name of await ctx.store.listTeams()) {
        if (ps.leadTeams.has(name)) continue;
        const cfg = await ctx.store.getTeam(name).catch(() => undefined);
        const lead = cfg && findMember(cfg, LEAD_NAME);
        if (!lead?.cwd || repoRoot(lead.cwd) !== here) continue;
        const rt = await ctx.store.getPresence(name, LEAD_NAME);
        if (rt && rt.pid !== process.pid && (await livenessOf(ctx, rt)).alive) continue;
        ps.leadTeams.add(name);
        adopted.push(name);
      }
    } catch { /* no data yet */ }
    return adopted;
  }

  /** The lead's sweep of one team: dead teammates' tasks and reservations, stuck teammates; one pass at a time. */
  async function sweep(team: string): Promise<void> {
    if (sweeping.has(team)) return;
    sweeping.add(team);
    try {
      await recoverAbandoned(ctxFor(), team).catch(() => undefined);
      await sweepStuck(ctxFor(), team).catch(() => undefined);
    } finally {
      sweeping.delete(team);
    }
  }

  /** Counts one assistant message's usage for each team this agent is in; a teammate over budget stops. */
  function account(message: unknown): void {
    if ((message as { role?: string } | undefined)?.role !== "assistant") return;
    const d = usageOfMessage(message);
    if (!d || (!d.tokens && !d.costUsd)) return;
    accounting = accounting.then(async () => {
      for (const team of presenceTeams()) {
        try {
          const ctx = ctxFor();
          const r = await recordUsage(ctx, team, actor, d);
          await writePresence(ctx, team, actor, { usage: { tokens: r.member.tokens, costUsd: r.member.costUsd, calls: r.member.calls } });
          if (role === "teammate") {
            const stop = r.alarms.find((a) => a.level === "stop");
            if (stop) budgetStopNow(stop.scope === "member" ? "its budget is used up" : "the team budget is used up");
          }
        } catch { /* the team may be gone */ }
      }
    });
  }

  /** Stops over budget (own or the team's, decided elsewhere too): after the current turn. */
  async function checkBudget(): Promise<void> {
    if (role !== "teammate" || ps.budgetStop) return;
    const why = await budgetStopReason(ctxFor(), myTeam!, actor).catch(() => undefined);
    if (why) budgetStopNow(why);
  }

  function budgetStopNow(reason: string): void {
    if (ps.budgetStop) return;
    ps.budgetStop = reason;
    if (!busy && !ending) void stopForBudget();
  }

  /** Over budget: unfinished tasks back to pending (the lead is told), presence "stopped", exit. */
  async function stopForBudget(): Promise<void> {
    if (stoppingForBudget || !ps.budgetStop) return;
    stoppingForBudget = true;
    const why = `${actor} stopped: ${ps.budgetStop}`;
    try { await releaseTasksOf(ctxFor(), myTeam!, actor, why); } catch { /* the team may be gone */ }
    ps.stopped = true;
    await presence({});
    shutdownNow();
  }

  /** After a teammate's run ends with nothing more to do: the teammate_idle hook; exit 2 sends its output back. */
  async function afterIdle(deliveredBefore: number): Promise<void> {
    await Promise.all([...delivering.values()]).catch(() => undefined);
    if (role !== "teammate" || busy || disposed || shutdownWanted || ps.budgetStop || delivered > deliveredBefore) return;
    const ctx = ctxFor();
    let r;
    try { r = await runIdleHook(ctx, myTeam!, ps.idleFeedback); } catch { return; }
    if (disposed || shutdownWanted || ps.budgetStop) return;
    if (r.outcome === "veto") {
      if (ps.idleFeedback >= MAX_IDLE_FEEDBACK) return void tellLeadAboutHook(`veto-cap`, `${actor}'s teammate_idle hook sent it back ${ps.idleFeedback} times in a row; its feedback is no longer sent until ${actor} runs for another reason. Last output:\n${r.outputTail ?? ""}`);
      ps.idleFeedback++;
      ps.hookRunPending = true;
      try { pi.sendUserMessage(idleFeedback(r), { deliverAs: "followUp" }); } catch { ps.hookRunPending = false; }
    } else if (r.outcome !== "ok" && r.outcome !== "missing") {
      const head = { failed: `failed (exit ${r.exitCode})`, timeout: "timed out and was killed", not_executable: "is not executable", broken: "is broken", error: "could not run" }[r.outcome];
      tellLeadAboutHook(`${r.outcome}/${r.exitCode ?? ""}`, `${actor}'s teammate_idle hook ${head}${r.outputTail ? `:\n${r.outputTail}` : "."}`);
    }
  }

  /** Tells the lead about an idle-hook problem once per kind (per process). */
  function tellLeadAboutHook(key: string, content: string): void {
    if (ps.toldHook.has(key)) return;
    ps.toldHook.add(key);
    void sendMessage(ctxFor(), myTeam!, { recipient: LEAD_NAME, summary: `${actor}: teammate_idle hook problem`.slice(0, 200), content, kind: "hook_problem" }).catch(() => undefined);
  }

  /** Why the current model cannot be called at all (no model, no key), or undefined. Never throws. */
  function missingAuth(ctx: ExtensionContext, model = ctx.model): string | undefined {
    try {
      if (!model) return "No model selected (start it with --model provider/id, or /login in its pane)";
      // getAvailable(): the models whose provider has a key or login, on 0.55 and 0.73, without refreshing tokens.
      const reg = ctx.modelRegistry as unknown as { getAvailable?: () => Array<{ provider: string; id: string }> } | undefined;
      if (typeof reg?.getAvailable !== "function") return undefined;
      if (reg.getAvailable().some((m) => m.provider === model.provider && m.id === model.id)) return undefined;
      return `No API key found for ${model.provider} (model ${model.provider}/${model.id})`;
    } catch {
      return undefined;
    }
  }

  function greetPending(): boolean {
    return role === "teammate" && !ps.greeted.has(`${myTeam}/${actor}`);
  }

  /** The teammate's one greeting: "working" once its model answers, the failure if it fails first, else after GREET_WAIT_MS. */
  async function greet(how: "working" | "failed" | "waiting"): Promise<void> {
    if (!greetPending() || disposed) return;
    ps.greeted.add(`${myTeam}/${actor}`);
    if (greetTimer) clearTimeout(greetTimer);
    const model = lastCtx?.model ? `, model ${lastCtx.model.provider}/${lastCtx.model.id}` : "";
    const up = `${actor} is up (pid ${process.pid}${model})`;
    const f = ps.modelError;
    let summary = `${actor} started`;
    let content = how === "working" ? `${up} and is working on its initial prompt.`
      : ps.runSeen ? `${up}; its model has not answered yet.` : `${up} and is waiting for a prompt.`;
    if (how === "failed" && f) {
      ps.toldLead = f.key;
      summary = `${actor} started; its model fails`;
      content = `${up} but cannot work: its model call failed: ${f.reason}\n${hintFor(f.kind)}`;
    }
    try {
      await sendMessage(ctxFor(), myTeam!, { recipient: LEAD_NAME, summary: summary.slice(0, 200), content, kind: "teammate_started" });
    } catch { /* not a member (any more): the lead sees the presence file */ }
  }

  /** A model call failed (or cannot start): presence says so; the lead hears of each new failure once. */
  function modelFailed(message: string | undefined): void {
    const f = classifyModelError(message);
    const changed = ps.modelError?.reason !== f.reason;
    ps.modelError = f;
    if (changed) void presence({ state: "error" });
    if (role !== "teammate") return;
    if (greetPending()) return void greet("failed");
    if (ps.toldLead === f.key) return; // a retry, or the same failure on the next mail
    ps.toldLead = f.key;
    void sendMessage(ctxFor(), myTeam!, {
      recipient: LEAD_NAME, summary: `${actor}'s model fails`.slice(0, 200), kind: "model_error",
      content: `${actor} cannot work: its model call failed: ${f.reason}\n${hintFor(f.kind)}`,
    }).catch(() => undefined);
  }

  /** A model call succeeded: back to busy/idle, and the next failure is news again. */
  function modelOk(): void {
    if (ps.modelError) {
      ps.modelError = undefined;
      ps.toldLead = undefined;
      void presence({ state: stateNow() });
    }
    if (greetPending()) void greet("working");
  }

  /** Judges one finished assistant message: error, success, or (aborted by the user) neither. */
  function judge(message: unknown): void {
    const m = message as { role?: string; stopReason?: string; errorMessage?: string } | undefined;
    if (m?.role !== "assistant") return;
    if (m.stopReason === "error") modelFailed(m.errorMessage);
    else if (m.stopReason !== "aborted") modelOk();
  }

  pi.on("session_start", async (_e, ctx) => start(ctx));
  // pi 0.55 (clanker's base) reports session changes as session_switch.
  (pi as unknown as { on(ev: string, h: (e: unknown, c: ExtensionContext) => unknown): void }).on("session_switch", async (_e, ctx) => start(ctx));
  pi.on("session_shutdown", async () => instance.dispose());

  pi.on("agent_start", async (_e, ctx) => {
    lastCtx = ctx;
    if (!instance.started) await start(ctx);
    busy = true;
    ending = false;
    ps.idleSince = null;
    if (ps.hookRunPending) ps.hookRunPending = false;
    else ps.idleFeedback = 0;
    const first = !ps.runSeen;
    ps.runSeen = true;
    // Mail that arrived before the first run (e.g. the task the lead assigned at spawn) joins this run as a follow-up.
    if (first) deliverAll();
    await presence({ state: stateNow() });
  });
  pi.on("message_end", async (e) => {
    const message = (e as { message?: unknown }).message;
    judge(message);
    account(message);
  });
  // Over budget: no further model call in this run (the turn's tool calls have finished).
  pi.on("turn_end", async (_e, ctx) => {
    if (!ps.budgetStop || !busy) return;
    await accounting;
    try { ctx.abort(); } catch { /* stale context */ }
  });
  // The model is answering: enough for the greeting to say it works (a long answer may take minutes to end).
  pi.on("message_update", async (e) => {
    if (!greetPending() || ps.modelError) return;
    const type = (e as { assistantMessageEvent?: { type?: string } }).assistantMessageEvent?.type;
    if (type?.endsWith("_delta")) void greet("working");
  });
  pi.on("model_select", async (e, ctx) => {
    lastCtx = ctx;
    const noKey = missingAuth(ctx, (e as { model?: ExtensionContext["model"] }).model ?? ctx.model);
    if (noKey) modelFailed(noKey);
  });
  pi.on("agent_end", async (e, ctx) => {
    lastCtx = ctx;
    busy = false;
    // A provider that throws instead of streaming an error: pi 0.73 puts the failed message only here (no message_end).
    const msgs = (e as { messages?: unknown[] }).messages ?? [];
    judge([...msgs].reverse().find((m) => (m as { role?: string })?.role === "assistant"));
    // pi 0.73 strands a follow-up sent while agent_end is being handled (until the next prompt):
    // hold deliveries until one macrotask after this handler returns, then flush.
    ending = true;
    ps.idleSince = await storeIso();
    try {
      await accounting; // a budget stop decided by this run's last message
      await presence({ state: stateNow() });
    } finally {
      setTimeout(() => {
        ending = false;
        if (shutdownWanted) return shutdownNow();
        if (ps.budgetStop) return void stopForBudget();
        const before = delivered;
        deliverAll();
        void afterIdle(before);
      }, 0);
    }
  });

  pi.on("before_agent_start", async (event) => {
    const extra = role === "teammate" ? await teammatePrompt() : teams.size ? render("lead.md", { teams: [...teams].map((t) => `"${t}"`).join(", ") }) : "";
    if (!extra) return undefined;
    return { systemPrompt: `${(event as { systemPrompt: string }).systemPrompt}\n\n${extra}` };
  });

  async function teammatePrompt(): Promise<string> {
    let teammates = "none yet";
    let planMode = env.CLANKER_PLAN_MODE_REQUIRED === "1";
    let model = env.CLANKER_AGENT_MODEL ?? (lastCtx?.model ? `${lastCtx.model.provider}/${lastCtx.model.id}` : "default");
    try {
      const cfg = await readTeam(ctxFor(), myTeam!);
      const others = cfg.members.filter((m) => m.name !== actor && m.role !== "lead").map((m) => m.name);
      if (others.length) teammates = others.join(", ");
      const me = findMember(cfg, actor);
      if (me?.planModeRequired !== undefined) planMode = me.planModeRequired || planMode;
      if (me?.model) model = me.model;
    } catch { /* team gone */ }
    let reservations = "none";
    let autoReserve = "";
    try {
      const list = await listReservations(ctxFor(), myTeam!);
      if (list.length) reservations = list.map((r) => `${r.path} (${r.holder === actor ? "yours" : r.holder}, ${r.exclusive ? "exclusive" : "shared"})`).join(", ");
      if (autoReserveOn(await readTeam(ctxFor(), myTeam!))) autoReserve = "This team reserves a file for you on your first edit or write of it.";
    } catch { /* team gone */ }
    return render("teammate.md", { name: actor, team: myTeam!, lead: LEAD_NAME, teammates, model, planMode: planMode ? render("plan-mode.md", {}) : "", reservations, autoReserve });
  }

  pi.on("tool_call", async (event) => {
    if (role !== "teammate" || !MUTATING_TOOLS.has(event.toolName)) return undefined;
    let planMode = env.CLANKER_PLAN_MODE_REQUIRED === "1";
    const ctx = ctxFor();
    try {
      const me = findMember(await readTeam(ctx, myTeam!), actor);
      if (me?.planModeRequired) planMode = true;
    } catch { /* keep env */ }
    if (!planMode) return undefined;
    let tasks;
    try {
      const mine = (await listTasks(ctx, myTeam!)).filter((t) => t.owner === actor && (t.status === "in_progress" || t.status === "planning" || t.status === "pending"));
      tasks = await Promise.all(mine.map((s) => getTask(ctx, myTeam!, s.id)));
    } catch (e) {
      return { block: true, reason: `Plan mode: ${event.toolName} is blocked: the task list of team "${myTeam}" cannot be read (${(e as Error).message}).` };
    }
    if (tasks.some((t) => t.planStatus === "approved" && t.status === "in_progress")) return undefined;
    if (!tasks.length) return { block: true, reason: `Plan mode: ${event.toolName} is blocked until you hold a task with an approved plan. Claim a task (task_claim), submit your plan with task_submit_plan, and wait for ${LEAD_NAME}'s approval.` };
    const t = tasks.find((x) => x.status !== "pending") ?? tasks[0]!;
    const why = t.planStatus === "submitted" ? `your plan for task #${t.id} is waiting for ${LEAD_NAME}'s approval (task_submit_plan done); wait for the message`
      : t.planStatus === "rejected" ? `your plan for task #${t.id} was rejected (${t.planFeedback ?? "see feedback"}); revise it and call task_submit_plan again`
      : t.planStatus === "approved" ? `your plan for task #${t.id} is approved but the task is ${t.status}: once its blockers are done (you get a message), set it in_progress with task_update`
      : `submit your plan for task #${t.id} with task_submit_plan first, then wait for ${LEAD_NAME}'s approval`;
    return { block: true, reason: `Plan mode: ${event.toolName} is blocked: ${why}.` };
  });

  // File reservations, for lead and teammates: edit/write of a file another member holds exclusively is refused.
  pi.on("tool_call", async (event, ectx) => {
    if (event.toolName !== "edit" && event.toolName !== "write") return undefined;
    const input = (event as { input?: { path?: unknown; file_path?: unknown } }).input;
    const file = typeof input?.path === "string" ? input.path : typeof input?.file_path === "string" ? input.file_path : undefined;
    if (!file) return undefined;
    for (const team of role === "teammate" ? [myTeam!] : [...teams]) {
      const reason = await reservationGate(ctxFor(), team, actor, event.toolName, file, ectx?.cwd ?? cwd);
      if (reason) return { block: true, reason };
    }
    return undefined;
  });
}
