/**
 * The pi / clanker extension: registers the team tools, tells a teammate who
 * it is on every turn, delivers inbox messages into the conversation the
 * moment they arrive (fs.watch + 30 s poll), keeps the presence file fresh,
 * enforces plan mode, and (in the lead) sweeps dead teammates' tasks.
 *
 * Host imports are type-only, so one file serves pi 0.55 (clanker's base),
 * pi 0.73 and the clanker fork.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { makeCtx, type Ctx } from "../context.js";
import { runCompletionHook } from "../hooks.js";
import { markRead, sendMessage, unreadCount, unreadPeek } from "../messages.js";
import { HEARTBEAT_EVERY_MS, recoverAbandoned, writePresence } from "../presence.js";
import { getTask, listTasks } from "../tasks.js";
import { findMember, readTeam } from "../teams.js";
import { jsonSchema } from "../tools/define.js";
import { callTool, toolsFor } from "../tools/table.js";
import { LEAD_NAME } from "../store/paths.js";
import type { Message } from "../schemas.js";

export const POLL_MS = 30_000;
const SWEEP_MS = 2_000;
const GUARD = Symbol.for("clanker-teams.extension");
const GREETED = Symbol.for("clanker-teams.greeted");
const MUTATING_TOOLS = new Set(["edit", "write", "bash"]);

interface Instance { started: boolean; dispose(): Promise<void> }
type G = typeof globalThis & { [GUARD]?: Instance; [GREETED]?: boolean };

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

export default function clankerTeams(pi: ExtensionAPI): void {
  const g = globalThis as G;
  const prev = g[GUARD];
  // A second copy in the same load (package installed and -e): register nothing twice.
  if (prev && !prev.started) return;
  const env = process.env;
  const myTeam = env.CLANKER_TEAM_NAME?.trim() || undefined;
  const myName = env.CLANKER_AGENT_NAME?.trim() || undefined;
  const role = myTeam && myName && myName !== LEAD_NAME ? "teammate" : "lead";
  const actor = role === "teammate" ? myName! : LEAD_NAME;

  let cwd = process.cwd();
  let lastCtx: ExtensionContext | undefined;
  let firstTurnSeen = false;
  let busy = false;
  let shuttingDown = false;
  let disposed = false;
  const teams = new Set<string>();
  const watchers = new Map<string, fs.FSWatcher>();
  const delivering = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const timers: NodeJS.Timeout[] = [];
  const ctxFor = (): Ctx => makeCtx({ actor, cwd, runHook: runCompletionHook });

  const instance: Instance = {
    started: false,
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      process.off("exit", onExit);
      if (g[GUARD] === instance) delete g[GUARD];
      if (role === "teammate") await presence({ state: "stopped" });
    },
  };
  g[GUARD] = instance;

  // pi does not emit session_shutdown when killed (SIGTERM/SIGHUP from a closed pane): mark the presence stopped on exit.
  const onExit = () => {
    if (disposed || role !== "teammate" || !myTeam) return;
    try {
      const file = ctxFor().paths.runtimeFile(myTeam, actor);
      const cur = JSON.parse(fs.readFileSync(file, "utf8"));
      if (cur.pid === process.pid) fs.writeFileSync(file, JSON.stringify({ ...cur, state: "stopped", heartbeatAt: Date.now() }, null, 2), { mode: 0o600 });
    } catch { /* best effort */ }
  };
  process.on("exit", onExit);

  // Debug counters for tests (one watcher, one heartbeat after /reload).
  (g as unknown as Record<string, unknown>).__clankerTeamsDebug = { watchers: () => watchers.size, timers: () => timers.length, teams: () => [...teams] };

  async function presence(patch: Record<string, unknown>): Promise<void> {
    if (!myTeam || role !== "teammate") return;
    try {
      const ctx = ctxFor();
      const current = listTasks(ctx, myTeam).find((t) => t.owner === actor && (t.status === "in_progress" || t.status === "planning"));
      await writePresence(ctx, myTeam, actor, { pid: process.pid, heartbeatAt: Date.now(), pane: env.TMUX_PANE ?? env.WEZTERM_PANE ?? env.ZELLIJ_PANE_ID, currentTask: current?.id, ...patch });
      updateStatusLine(current?.id);
    } catch { /* the team may be gone; never crash the host */ }
  }

  function updateStatusLine(taskId?: string): void {
    const team = myTeam ?? [...teams][0];
    if (!team || !lastCtx?.hasUI) return;
    try {
      const unread = unreadCount(ctxFor(), team, actor);
      lastCtx.ui.setStatus("clanker-teams", `team ${team} · ${actor}${unread ? ` · ${unread} unread` : ""}${taskId ? ` · task #${taskId}` : ""}`);
    } catch { /* status is cosmetic */ }
  }

  /** Delivers unread mail of one team into the conversation; single-flight per team. */
  function deliver(team: string): Promise<void> {
    if (disposed || !firstTurnSeen) return Promise.resolve();
    const running = delivering.get(team);
    if (running) { again.add(team); return running; }
    const p = (async () => {
      do {
        again.delete(team);
        const ctx = ctxFor();
        let msgs: Message[];
        try { msgs = unreadPeek(ctx, team, actor); } catch { return; }
        if (!msgs.length) continue;
        const shutdown = msgs.filter((m) => m.kind === "shutdown_request" && role === "teammate");
        const rest = msgs.filter((m) => !shutdown.includes(m));
        if (rest.length) pi.sendUserMessage(formatDelivery(team, rest), { deliverAs: "followUp" });
        await markRead(ctx, team, actor, msgs.map((m) => m.id)).catch(() => undefined);
        if (shutdown.length) requestShutdown();
      } while (again.has(team) && !disposed);
      updateStatusLine();
    })().finally(() => delivering.delete(team));
    delivering.set(team, p);
    return p;
  }

  function requestShutdown(): void {
    if (shuttingDown) return;
    shuttingDown = true;
    void presence({ shutdownRequested: true });
    // Deferred by the host until the current turn ends.
    lastCtx?.shutdown();
  }

  function watch(team: string): void {
    if (teams.has(team) || disposed) return;
    teams.add(team);
    const ctx = ctxFor();
    const dir = ctx.paths.messagesDir(team);
    const spoolName = path.basename(ctx.paths.spool(team, actor));
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const w = fs.watch(dir, (_ev, file) => { if (!file || file.toString() === spoolName) void deliver(team); });
      w.on("error", () => { w.close(); watchers.delete(team); });
      watchers.set(team, w);
    } catch { /* polling still delivers */ }
    void deliver(team);
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
        if (role === "lead" && typeof team === "string" && tool.name !== "team_delete") {
          try { if (findMember(readTeam(ctxFor(), team), LEAD_NAME)) watch(team); } catch { /* not a team */ }
        }
        if (tool.name === "team_delete" && typeof team === "string") { watchers.get(team)?.close(); watchers.delete(team); teams.delete(team); }
        return { content: [{ type: "text" as const, text: r.text }], details: r.details };
      },
    } as never);
  }

  // ---- lifecycle ----
  async function start(ctx: ExtensionContext): Promise<void> {
    lastCtx = ctx;
    if (ctx.cwd) cwd = ctx.cwd;
    if (instance.started) return;
    instance.started = true;
    if (prev && prev !== instance) await prev.dispose(); // a reload whose shutdown we did not see
    g[GUARD] = instance;
    timers.push(setInterval(() => { for (const t of teams) void deliver(t); }, POLL_MS));
    if (role === "teammate") {
      watch(myTeam!);
      await presence({ state: "starting", startedAt: Date.now() });
      timers.push(setInterval(() => void presence({ state: busy ? "busy" : "idle" }), HEARTBEAT_EVERY_MS));
      if (!g[GREETED]) {
        g[GREETED] = true;
        try {
          await sendMessage(ctxFor(), myTeam!, { recipient: LEAD_NAME, summary: `${actor} started`, content: `${actor} is up (pid ${process.pid}${ctx.model ? `, model ${ctx.model.provider}/${ctx.model.id}` : ""}) and is working on its initial prompt.`, kind: "teammate_started" });
        } catch { /* not a member (yet): the lead sees the presence file */ }
      }
    } else {
      if (myTeam) watch(myTeam);
      timers.push(setInterval(() => {
        for (const t of teams) void recoverAbandoned(ctxFor(), t).catch(() => undefined);
      }, SWEEP_MS));
    }
    for (const t of timers) t.unref?.();
  }

  pi.on("session_start", async (_e, ctx) => start(ctx));
  // pi 0.55 (clanker's base) reports session changes as session_switch.
  (pi as unknown as { on(ev: string, h: (e: unknown, c: ExtensionContext) => unknown): void }).on("session_switch", async (_e, ctx) => start(ctx));
  pi.on("session_shutdown", async () => instance.dispose());

  pi.on("agent_start", async (_e, ctx) => {
    lastCtx = ctx;
    if (!instance.started) await start(ctx);
    firstTurnSeen = true;
    busy = true;
    await presence({ state: "busy" });
  });
  pi.on("agent_end", async (_e, ctx) => {
    lastCtx = ctx;
    busy = false;
    await presence({ state: "idle" });
    // pi 0.73 strands a message sent from inside agent_end until the next prompt: send after it returns.
    setTimeout(() => { for (const t of teams) void deliver(t); }, 0);
  });

  pi.on("before_agent_start", async (event) => {
    const extra = role === "teammate" ? teammatePrompt() : teams.size ? render("lead.md", { teams: [...teams].map((t) => `"${t}"`).join(", ") }) : "";
    if (!extra) return undefined;
    return { systemPrompt: `${(event as { systemPrompt: string }).systemPrompt}\n\n${extra}` };
  });

  function teammatePrompt(): string {
    let teammates = "none yet";
    let planMode = env.CLANKER_PLAN_MODE_REQUIRED === "1";
    let model = env.CLANKER_AGENT_MODEL ?? lastCtx?.model?.id ?? "default";
    try {
      const cfg = readTeam(ctxFor(), myTeam!);
      const others = cfg.members.filter((m) => m.name !== actor && m.role !== "lead").map((m) => m.name);
      if (others.length) teammates = others.join(", ");
      const me = findMember(cfg, actor);
      if (me?.planModeRequired !== undefined) planMode = me.planModeRequired;
      if (me?.model) model = me.model;
    } catch { /* team gone */ }
    return render("teammate.md", { name: actor, team: myTeam!, lead: LEAD_NAME, teammates, model, planMode: planMode ? render("plan-mode.md", {}) : "" });
  }

  pi.on("tool_call", async (event) => {
    if (role !== "teammate" || !MUTATING_TOOLS.has(event.toolName)) return undefined;
    let planMode = env.CLANKER_PLAN_MODE_REQUIRED === "1";
    const ctx = ctxFor();
    try {
      const me = findMember(readTeam(ctx, myTeam!), actor);
      if (me?.planModeRequired !== undefined) planMode = me.planModeRequired;
    } catch { /* keep env */ }
    if (!planMode) return undefined;
    const mine = listTasks(ctx, myTeam!).filter((t) => t.owner === actor && (t.status === "in_progress" || t.status === "planning"));
    if (!mine.length) return { block: true, reason: `Plan mode: ${event.toolName} is blocked until you hold a task with an approved plan. Claim a task (task_claim), submit your plan with task_submit_plan, and wait for ${LEAD_NAME}'s approval.` };
    const tasks = mine.map((s) => getTask(ctx, myTeam!, s.id));
    if (tasks.some((t) => t.planStatus === "approved")) return undefined;
    const t = tasks[0];
    const why = t.planStatus === "submitted" ? `your plan for task #${t.id} is waiting for ${LEAD_NAME}'s approval; wait for the message` : t.planStatus === "rejected" ? `your plan for task #${t.id} was rejected (${t.planFeedback ?? "see feedback"}); revise it and task_submit_plan again` : `submit your plan for task #${t.id} with task_submit_plan first`;
    return { block: true, reason: `Plan mode: ${event.toolName} is blocked: ${why}.` };
  });
}
