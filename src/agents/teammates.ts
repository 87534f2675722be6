/**
 * Teammate lifecycle: spawn a full agent process in a pane next to the lead,
 * check it (pane + process + heartbeat), stop it in order or by force. A
 * spawn that fails leaves no member and no pane.
 *
 * Environment read here (the lead's):
 * - CLANKER_TEAMS_AGENT_CMD: the agent command (JSON argv array, or words); default `clanker` if on PATH, else `pi`.
 * - CLANKER_DEFAULT_THINKING_LEVEL: thinking level when spawn_teammate gives none (before the team's default).
 * - CLANKER_SHUTDOWN_GRACE_MS: how long process_shutdown_approved waits before killing (default 20 000).
 * - CLANKER_TEAMS_TMUX_SOCKET: tmux server socket path for headless mode (default: tmux's own default server).
 * - CLANKER_TEAMS_TERMINAL, TMUX/TMUX_PANE, ZELLIJ, WEZTERM_PANE, TERM_PROGRAM: see terminals/detect.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { appendEvent, ev } from "../domain/events.js";
import { markRead, sendMessage, unreadCount, unreadPeek } from "../domain/messages.js";
import { hostName, leaseMs, livenessOf, pidAlive, readPresence, removePresence, type Liveness } from "../domain/presence.js";
import { ThinkingLevel, timeMs, type Member, type TeamConfig } from "../schemas.js";
import { LEAD_NAME, validateName } from "../names.js";
import { listTasks, releaseTasksOf } from "../domain/tasks.js";
import { listReservations, type Reservation } from "../domain/reservations.js";
import { addMember, deleteTeam, findMember, isLead, memberNames, readTeam, removeMember, updateTeam } from "../domain/teams.js";
import { adapterFor, detect, detectKind, terminate, type PaneRef, type TerminalAdapter } from "./terminals/index.js";
import { planIsolation, retireWorktree, worktreeStatus, type Isolation, type WorktreeStatus } from "./isolation.js";
import { checkBudget, teamBudgetUsedUp, usageOf, type UsageRow } from "../domain/budgets.js";
import { isPidAlive } from "./terminals/process.js";
import { kindOf, launchKind } from "./kinds/index.js";

/** What an MCP-hosted teammate is told after its assignment (it has no extension to tell it each turn). */
const MCP_PROMPT_TAIL = (team: string) => `Your team tools are the clanker-teams MCP tools (team_name "${team}"). When you have nothing left to do, call wait_for_mail instead of stopping.`;

/** How long an orderly shutdown may take before the teammate is killed. */
export const SHUTDOWN_GRACE_MS = 20_000;
/** After the kill, how long its processes get to disappear before we report them as still exiting. */
export const EXIT_WAIT_MS = 3_000;

/** Lets tests and the demo choose the terminal; default: detect from the environment. */
export interface TeammateDeps {
  adapter?: (ctx: Ctx, team: string) => TerminalAdapter;
  adapterForPane?: (ctx: Ctx, pane: PaneRef) => TerminalAdapter;
}

/** Env var naming the tmux socket (path) of the headless session, e.g. to keep it off the user's default server. */
export const HEADLESS_SOCKET_ENV = "CLANKER_TEAMS_TMUX_SOCKET";

// One adapter per terminal/lead/team for the life of the process: adapters serialise their spawns and
// remember the teammate column (WezTerm, Zellij, iTerm2), which a fresh adapter per call would forget.
const adapters = new Map<string, TerminalAdapter>();

function detectAdapter(ctx: Ctx, team: string): TerminalAdapter {
  const e = ctx.env;
  const kind = detectKind(e, process.platform);
  const socketPath = kind === "headless" ? e[HEADLESS_SOCKET_ENV]?.trim() || undefined : undefined;
  const key = JSON.stringify([kind, kind === "headless" ? team : "", socketPath, e.TMUX, e.TMUX_PANE, e.ZELLIJ_SESSION_NAME, e.WEZTERM_PANE, e.ITERM_SESSION_ID, e.PATH]);
  let a = adapters.get(key);
  if (!a) {
    a = detect({ env: e, team, socketPath });
    adapters.set(key, a);
  }
  return a;
}

const defaultDeps: Required<TeammateDeps> = {
  adapter: detectAdapter,
  adapterForPane: (ctx, pane) => adapterFor(pane, { env: ctx.env }),
};

function requireLead(ctx: Ctx, cfg: TeamConfig, what: string): void {
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} can ${what}; you are ${ctx.actor}. Ask the lead with send_message.`);
}

function requireTeammate(cfg: TeamConfig, name: string): Member {
  validateName("agent_name", name);
  const m = findMember(cfg, name);
  if (!m) throw new TeamsError("NOT_FOUND", `agent_name: "${name}" is not a member of team "${cfg.name}"; members: ${memberNames(cfg).join(", ")}.`);
  if (m.role === "lead") throw invalid("agent_name", `"${name}" is the lead; name a teammate`);
  return m;
}

/** The path of this package's pi/clanker extension (dist build). */
export function extensionPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, "..", "hosts", "pi-extension.js");
  return fs.existsSync(js) ? js : path.join(here, "..", "hosts", "pi-extension.ts");
}

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return true; } catch { /* next */ }
  }
  return false;
}

/** Parses CLANKER_TEAMS_AGENT_CMD: a JSON array of argv, or words separated by spaces. */
export function parseAgentCmd(value: string): string[] {
  const v = value.trim();
  if (v.startsWith("[")) {
    let arr: unknown;
    try { arr = JSON.parse(v); } catch { throw invalid("CLANKER_TEAMS_AGENT_CMD", "looks like a JSON array but does not parse; use e.g. [\"node\",\"/path/to/cli.js\"]"); }
    if (!Array.isArray(arr) || !arr.length || !arr.every((x) => typeof x === "string" && x)) throw invalid("CLANKER_TEAMS_AGENT_CMD", "must be a non-empty JSON array of strings");
    return arr as string[];
  }
  const words = v.split(/\s+/).filter(Boolean);
  if (!words.length) throw invalid("CLANKER_TEAMS_AGENT_CMD", "is empty; unset it or name a command such as \"pi\"");
  return words;
}

/** Fails with a clear error unless argv[0] of the agent command is an executable (a path, or a name on the lead's PATH). */
function requireRunnable(ctx: Ctx, cfg: TeamConfig, cmd: string[]): void {
  const prog = cmd[0]!;
  const source = cfg.agentCmd?.length ? "the team config's agentCmd" : ctx.env.CLANKER_TEAMS_AGENT_CMD?.trim() ? "CLANKER_TEAMS_AGENT_CMD" : "the agent command";
  if (prog.includes("/")) {
    const p = path.resolve(ctx.cwd, prog);
    let ok = false;
    try { ok = fs.statSync(p).isFile(); fs.accessSync(p, fs.constants.X_OK); } catch { ok = false; }
    if (!ok) throw new TeamsError("NOT_FOUND", `${source}: ${JSON.stringify(prog)} is not an executable file; fix the path or set CLANKER_TEAMS_AGENT_CMD.`);
  } else if (!onPath(prog, ctx.env)) {
    throw new TeamsError("NOT_FOUND", `${source}: ${JSON.stringify(prog)} is not on PATH; install it (e.g. npm i -g @mariozechner/pi-coding-agent) or set CLANKER_TEAMS_AGENT_CMD to the agent's command.`);
  }
}

/** The agent command: team config, else CLANKER_TEAMS_AGENT_CMD, else `clanker` if on PATH, else `pi`. */
export function agentCommand(ctx: Ctx, cfg: TeamConfig): string[] {
  if (cfg.agentCmd?.length) return cfg.agentCmd;
  if (ctx.env.CLANKER_TEAMS_AGENT_CMD?.trim()) return parseAgentCmd(ctx.env.CLANKER_TEAMS_AGENT_CMD);
  return [onPath("clanker", ctx.env) ? "clanker" : "pi"];
}

/** Environment passed to a teammate: identity, data dir, and the CLANKER_/PI_ settings of the lead. */
export function teammateEnv(ctx: Ctx, team: string, name: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) {
    if (v !== undefined && /^(CLANKER_|PI_)/.test(k) && !/^CLANKER_(AGENT_NAME|TEAM_NAME|PLAN_MODE_REQUIRED|AGENT_MODEL|HOOK_RUN)$/.test(k)) env[k] = v;
  }
  // The pane's shell may come from a tmux server started long ago: give it the lead's PATH so the same agent binary is found.
  if (ctx.env.PATH) env.PATH = ctx.env.PATH;
  // The same store: CLANKER_TEAMS_DIR or CLANKER_TEAMS_DB (a teammate on another host gets the same).
  return { ...env, ...ctx.store.childEnv(), CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: name, ...extra };
}

/** The first message a teammate gets. Framed so it never starts with '-' or '@' (pi would read those as an option or a file). */
export function initialPrompt(team: string, name: string, prompt: string): string {
  return `You are ${name}, a teammate in team "${team}". Your lead (${LEAD_NAME}) gives you this assignment:\n\n${prompt}`;
}

export interface SpawnInput {
  name: string; prompt: string; cwd: string; model?: string; thinking?: string; plan_mode_required?: boolean;
  /** The agent CLI (kinds/): pi (default) or claude, codex, gemini, opencode over MCP. */
  agent?: string;
  /** "worktree": its own git worktree and branch (default: the team's `isolation`, else "shared"). */
  isolation?: Isolation;
  /** Its own token and/or cost budget (domain/budgets.ts). */
  budget?: { tokens?: number; cost_usd?: number };
}

export interface SpawnResult { member: Member; pane: PaneRef; argv: string[]; attach: string; replaced: boolean }

function cleanText(field: string, v: string | undefined, max: number): string | undefined {
  if (v === undefined || v === "") return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw invalid(field, "contains a control character; use a plain one-line value");
  if (v.length > max) throw invalid(field, `is longer than ${max} characters`);
  return v;
}

/** Starts a teammate in a new pane. */
export async function spawnTeammate(ctx: Ctx, team: string, input: SpawnInput, deps: TeammateDeps = {}): Promise<SpawnResult> {
  const d = { ...defaultDeps, ...deps };
  const cfg = await readTeam(ctx, team);
  requireLead(ctx, cfg, "spawn teammates");
  const name = validateName("name", input.name);
  if (name === LEAD_NAME) throw invalid("name", `"${LEAD_NAME}" is the lead's name; choose another`);
  if (typeof input.prompt !== "string" || !input.prompt.trim()) throw invalid("prompt", "must say what the teammate should do");
  if (input.prompt.includes("\u0000")) throw invalid("prompt", "contains a NUL character; remove it");
  if (Buffer.byteLength(input.prompt) > 64 * 1024) throw invalid("prompt", "is over 64 KiB; put the details in a task description or a file");
  if (typeof input.cwd !== "string" || !input.cwd.trim()) throw invalid("cwd", "must be a directory, e.g. the repo root");
  if (input.cwd.includes("\u0000")) throw invalid("cwd", "contains a NUL character");
  const cwd = path.resolve(ctx.cwd, input.cwd);
  if (!fs.existsSync(cwd) || !fs.statSync(cwd).isDirectory()) throw invalid("cwd", `${JSON.stringify(cwd)} is not an existing directory`);
  const model = cleanText("model", input.model, 200) ?? cfg.defaultModel;
  const thinkingRaw = input.thinking ?? (ctx.env.CLANKER_DEFAULT_THINKING_LEVEL?.trim() || undefined) ?? cfg.defaultThinking;
  let thinking: ThinkingLevel | undefined;
  if (thinkingRaw !== undefined) {
    const r = ThinkingLevel.safeParse(thinkingRaw);
    if (!r.success) throw invalid(input.thinking !== undefined ? "thinking" : "CLANKER_DEFAULT_THINKING_LEVEL", `must be one of ${ThinkingLevel.options.join(", ")} (got ${JSON.stringify(thinkingRaw)})`);
    thinking = r.data;
  }
  const planMode = input.plan_mode_required === true;
  const budget = checkBudget("budget", input.budget);
  const teamUsed = await teamBudgetUsedUp(ctx, team, cfg);
  if (teamUsed) throw new TeamsError("CONFLICT", `budget: team "${team}" has used up its budget (${teamUsed}); a teammate would stop at once. A person raises it with: clanker-teams budget ${team} --tokens N (or --cost USD).`);

  const kind = kindOf(input.agent ?? "pi");
  // A worktree teammate starts at the same place inside its own worktree.
  const iso = await planIsolation(ctx, cfg, team, name, cwd, input.isolation);
  let env = teammateEnv(ctx, team, name, { ...(planMode ? { CLANKER_PLAN_MODE_REQUIRED: "1" } : {}), ...(model ? { CLANKER_AGENT_MODEL: model } : {}), ...iso.env });
  let argv: string[];
  if (kind === "pi") {
    const cmd = agentCommand(ctx, cfg);
    requireRunnable(ctx, cfg, cmd);
    argv = [...cmd];
    if (model) argv.push("--model", model);
    if (thinking) argv.push("--thinking", thinking);
    argv.push("-e", extensionPath(), initialPrompt(team, name, input.prompt));
  } else {
    const l = launchKind(ctx, kind, { team, name, cwd: iso.cwd, model, thinking, env, prompt: `${initialPrompt(team, name, input.prompt)}\n\n${MCP_PROMPT_TAIL(team)}` });
    argv = l.argv;
    env = { ...env, ...l.env };
  }
  let adapter: TerminalAdapter;
  try {
    adapter = d.adapter(ctx, team);
  } catch (e) {
    throw new TeamsError("INVALID_INPUT", `no terminal to open a pane for ${name}: ${(e as Error).message}`, { cause: String(e) });
  }

  // One spawn of a name at a time: two racing to replace the same dead teammate must not both win.
  const extra: Partial<Member> = { ...iso.member, ...(budget ? { budget } : {}) };
  const { member, pane, replaced } = await ctx.store.withLock(team, `spawn:${name.toLowerCase()}`, () => spawnLocked(ctx, team, name, { argv, cwd: iso.cwd, env, model, thinking, planMode, prompt: input.prompt, extra }, adapter, d))
    .catch(async (e) => { if (iso.created) await retireWorktree(iso.member as Member); throw e; });
  await appendEvent(ctx, team, "teammate.spawned", { name, pane: pane.paneId, kind: pane.kind, pid: pane.pid, agent: kind, model, thinking, planModeRequired: planMode, cwd: iso.cwd, replaced, ...(iso.member.worktree ? { branch: iso.member.worktree.branch } : {}), ...(budget ? { budget } : {}) });
  return { member: { ...member, pane: pane as Member["pane"] }, pane, argv, attach: adapter.attachHint(pane), replaced };
}

interface SpawnPlan { argv: string[]; cwd: string; env: Record<string, string>; model?: string; thinking?: ThinkingLevel; planMode: boolean; prompt: string; extra?: Partial<Member> }

/** The part of spawnTeammate that runs under the name's spawn lock: replace a dead holder, add the member, open the pane. */
async function spawnLocked(ctx: Ctx, team: string, name: string, o: SpawnPlan, adapter: TerminalAdapter, d: Required<TeammateDeps>): Promise<{ member: Member; pane: PaneRef; replaced: boolean }> {
  // A live teammate of that name is an error; a dead one is replaced.
  const existing = (await readTeam(ctx, team)).members.find((m) => m.name.toLowerCase() === name.toLowerCase());
  let replaced = false;
  if (existing) {
    if (existing.role === "lead") throw invalid("name", `"${name}" is the lead`);
    if (existing.name !== name) throw invalid("name", `"${name}" clashes with member "${existing.name}" (names are case-insensitive)`);
    const st = await teammateStatus(ctx, team, existing, d);
    if (st.running) throw new TeamsError("CONFLICT", `name: teammate "${name}" is already running (${st.state}); pick another name, or stop it first (process_shutdown_approved / force_kill_teammate).`);
    if (existing.pane) await d.adapterForPane(ctx, existing.pane).kill(existing.pane).catch(() => undefined);
    await removePresence(ctx, team, name);
    replaced = true;
  }

  // Replace only the dead teammate found above (agentId), should another process have replaced it meanwhile.
  const member = await addMember(ctx, team, { ...o.extra, name, role: "teammate", model: o.model, thinking: o.thinking, cwd: o.cwd, prompt: o.prompt, planModeRequired: o.planMode }, replaced ? { replace: existing!.agentId } : {});
  // A shutdown request the previous holder of this name never read would stop the newcomer at once.
  const stale = (await unreadPeek(ctx, team, name)).filter((m) => m.kind === "shutdown_request").map((m) => m.id);
  if (stale.length) await markRead(ctx, team, name, stale);
  let pane: PaneRef;
  try {
    pane = await adapter.spawn({ argv: o.argv, cwd: o.cwd, env: o.env, title: name });
  } catch (e) {
    await removeMember(ctx, team, name, "spawn failed").catch(() => undefined);
    throw new TeamsError("IO", `could not open a ${adapter.kind} pane for ${name}: ${(e as Error).message}`, { cause: String(e) });
  }
  try {
    await updateTeam(ctx, team, (c) => { const m = findMember(c, name); if (m) m.pane = pane as Member["pane"]; return { value: undefined, write: !!m }; });
  } catch (e) {
    await adapter.kill(pane).catch(() => undefined);
    await removeMember(ctx, team, name, "spawn failed").catch(() => undefined);
    throw e;
  }
  return { member, pane, replaced };
}

export interface TeammateStatus {
  name: string; running: boolean; state: Liveness["state"]; paneAlive: boolean | null; processAlive: boolean | null;
  detail: string; unread: number; currentTask: string | null; pane: PaneRef | null;
  /** The host the agent runs on (from its presence). */
  host: string | null;
  /** Why its model fails (state "error"), or why it exited. */
  error: string | null;
  /** Its file reservations. */
  reservations: Reservation[];
  /** Its branch against the lead's (worktree teammates). */
  worktree?: WorktreeStatus | { error: string };
  /** What its model calls used, and its budget. */
  usage?: UsageRow;
}

async function teammateStatus(ctx: Ctx, team: string, m: Member, d: Required<TeammateDeps>): Promise<TeammateStatus> {
  let paneAlive: boolean | null = null;
  if (m.pane) {
    try { paneAlive = await d.adapterForPane(ctx, m.pane).isAlive(m.pane); } catch { paneAlive = null; }
  }
  const rt = await readPresence(ctx, team, m.name);
  const l = await livenessOf(ctx, rt);
  const processAlive = rt && rt.host === hostName(ctx.env) ? pidAlive(rt.pid) && rt.state !== "stopped" : null;
  let state = l.state;
  let running = l.alive;
  let detail = l.reason;
  if (!rt) {
    state = paneAlive ? "starting" : "dead";
    running = paneAlive === true;
    detail = paneAlive ? "pane is open; the agent has not reported in yet" : "no pane and no presence";
  } else if (paneAlive === false && running) {
    state = "dead"; running = false; detail = "its pane is gone";
  }
  const current = (await listTasks(ctx, team)).find((t) => t.owner === m.name && (t.status === "in_progress" || t.status === "planning"));
  return { name: m.name, running, state, paneAlive, processAlive, detail, host: rt?.host ?? null, unread: await unreadCount(ctx, team, m.name), currentTask: current?.id ?? rt?.currentTask ?? null, pane: m.pane ?? null, error: rt?.error ?? null, reservations: (await listReservations(ctx, team)).filter((r) => r.holder === m.name) };
}

/** Whether a teammate runs, its state, unread count and current task. */
export async function checkTeammate(ctx: Ctx, team: string, name: string, deps: TeammateDeps = {}): Promise<TeammateStatus> {
  const cfg = await readTeam(ctx, team);
  const m = requireTeammate(cfg, name);
  const s = await teammateStatus(ctx, team, m, { ...defaultDeps, ...deps });
  const worktree = await worktreeStatus(m);
  return { ...s, ...(worktree ? { worktree } : {}), usage: await usageOf(ctx, team, m.name) };
}

interface KillResult {
  /** What was done, for the tool result. */
  actions: string[];
  /** Pids still there after EXIT_WAIT_MS (signalled, not yet gone). */
  exiting: number[];
}

/** Kills pane and process, and returns once their pids are gone (or EXIT_WAIT_MS has passed: see `exiting`). */
async function killTeammate(ctx: Ctx, team: string, m: Member, d: Required<TeammateDeps>): Promise<KillResult> {
  const done: string[] = [];
  const pids = new Set<number>();
  const rt = await readPresence(ctx, team, m.name);
  // Only a pid with a recent heartbeat is surely ours: an old presence may name a pid the OS has reused.
  // (The pane kill below covers a hung agent: the adapter checks the pane still runs the pid it started.)
  const fresh = rt ? (await ctx.store.now()) - timeMs(rt.heartbeatAt) <= leaseMs(ctx.env) : false;
  if (rt && fresh && rt.host === hostName(ctx.env) && rt.pid !== process.pid && pidAlive(rt.pid)) {
    pids.add(rt.pid);
    if (await terminate(rt.pid, { graceMs: 1500 })) done.push(`process ${rt.pid} ended`);
  }
  let adapter: TerminalAdapter | undefined;
  if (m.pane) {
    try {
      adapter = d.adapterForPane(ctx, m.pane);
      if (await adapter.isAlive(m.pane)) {
        if (m.pane.pid) pids.add(m.pane.pid);
        await adapter.kill(m.pane);
        done.push(`pane ${m.pane.paneId} closed`);
      }
    } catch (e) {
      done.push(`pane ${m.pane.paneId}: ${(e as Error).message}`);
    }
  }
  const pane = m.pane;
  const exiting = await waitGone([...pids], EXIT_WAIT_MS, () => (adapter?.reap && pane ? adapter.reap(pane) : undefined));
  // A process that has not exited yet did not "end": the caller says it is still exiting.
  return { actions: done.filter((a) => !exiting.some((pid) => a === `process ${pid} ended`)), exiting };
}

/**
 * Waits until no process has any of `pids`. A zombie still has its pid (until its parent reaps it), and a
 * dead pane process can stay one for long under tmux: then `reap` asks the terminal to reap it. Returns
 * the pids still there when `ms` has passed.
 */
async function waitGone(pids: number[], ms: number, reap: () => Promise<void> | undefined): Promise<number[]> {
  const end = Date.now() + ms;
  let nudged = 0;
  for (;;) {
    const left = pids.filter(pidAlive); // kill -0: true for a zombie too
    if (!left.length || Date.now() >= end) return left;
    if (left.some((pid) => !isPidAlive(pid)) && Date.now() - nudged >= 200) {
      nudged = Date.now();
      await reap()?.catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function retire(ctx: Ctx, team: string, name: string, reason: string): Promise<string[]> {
  const released = await releaseTasksOf(ctx, team, name, reason);
  await removeMember(ctx, team, name, reason);
  await removePresence(ctx, team, name);
  return released.map((t) => t.id);
}

/** Kills a teammate now: pane and process end, the member is removed, its unfinished tasks go back to pending. */
export async function forceKillTeammate(ctx: Ctx, team: string, name: string, deps: TeammateDeps = {}): Promise<{ actions: string[]; exiting: number[]; releasedTasks: string[]; worktree: string }> {
  const d = { ...defaultDeps, ...deps };
  const cfg = await readTeam(ctx, team);
  requireLead(ctx, cfg, "kill teammates");
  const m = requireTeammate(cfg, name);
  const { actions, exiting } = await killTeammate(ctx, team, m, d);
  const releasedTasks = await retire(ctx, team, name, `${name} was force-killed by ${ctx.actor}`);
  const worktree = await retireWorktree(m);
  await appendEvent(ctx, team, "teammate.killed", { name, actions, exiting, releasedTasks, ...(worktree ? { worktree } : {}) });
  return { actions, exiting, releasedTasks, worktree };
}

/** Orderly stop: ask the teammate to finish its turn and exit; kill it after the grace period; then remove it. */
export async function shutdownTeammate(ctx: Ctx, team: string, name: string, deps: TeammateDeps & { graceMs?: number } = {}): Promise<{ exited: boolean; killed: boolean; actions: string[]; exiting: number[]; releasedTasks: string[]; waitedMs: number; worktree: string }> {
  const d = { ...defaultDeps, ...deps };
  const cfg = await readTeam(ctx, team);
  requireLead(ctx, cfg, "approve a shutdown");
  const m = requireTeammate(cfg, name);
  const grace = deps.graceMs ?? (Number(ctx.env.CLANKER_SHUTDOWN_GRACE_MS) || SHUTDOWN_GRACE_MS);
  const started = Date.now();
  await sendMessage(ctx, team, { recipient: name, summary: "Shutdown approved", content: `${ctx.actor} approved your shutdown: finish your current turn and exit.`, kind: "shutdown_request" });
  await appendEvent(ctx, team, "teammate.shutdown_requested", { name, graceMs: grace });
  let exited = false;
  while (Date.now() - started < grace) {
    const st = await teammateStatus(ctx, team, m, d);
    const rt = await readPresence(ctx, team, name);
    if (!st.running || rt?.state === "stopped") { exited = true; break; }
    await new Promise((r) => setTimeout(r, 200));
  }
  const { actions, exiting } = await killTeammate(ctx, team, m, d);
  const killed = !exited && actions.some((a) => a.startsWith("process") || a.startsWith("pane"));
  const releasedTasks = await retire(ctx, team, name, exited ? `${name} shut down` : `${name} did not exit within ${Math.round(grace / 1000)} s and was killed`);
  const worktree = await retireWorktree(m);
  await appendEvent(ctx, team, "teammate.stopped", { name, exited, killed, exiting, releasedTasks, ...(worktree ? { worktree } : {}) });
  return { exited, killed, actions, exiting, releasedTasks, waitedMs: Date.now() - started, worktree };
}

/** Stops the team's running teammates, then deletes the team's data. Returns who was stopped. */
export async function stopTeamAndDelete(ctx: Ctx, team: string, deps: TeammateDeps = {}, out: { notes?: string[] } = {}): Promise<string[]> {
  const d = { ...defaultDeps, ...deps };
  const cfg = await readTeam(ctx, team);
  requireLead(ctx, cfg, "delete the team");
  const mates = cfg.members.filter((x) => x.role !== "lead");
  // In parallel: each kill may wait out a grace period.
  const actions = await Promise.all(mates.map((m) => killTeammate(ctx, team, m, d)));
  const stopped = mates.filter((_, i) => actions[i]!.actions.length).map((m) => m.name);
  const headless = new Map<string, PaneRef>();
  for (const m of mates) if (m.pane?.kind === "headless") headless.set(`${m.pane.socket ?? ""}\n${m.pane.session ?? ""}`, m.pane);
  for (const pane of headless.values()) await d.adapterForPane(ctx, pane).destroy?.().catch(() => undefined);
  for (const m of mates) { const note = await retireWorktree(m); if (note) (out.notes ??= []).push(`${m.name}: ${note}`); }
  await deleteTeam(ctx, team);
  return stopped;
}
