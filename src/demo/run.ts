/**
 * `npm run demo` / `clanker-teams demo`: a real pi lead and two real pi
 * teammates in tmux, driven by a scripted model (no key, no network), working
 * in a throwaway git repo with a throwaway data dir. Shows a live board, checks
 * every step in the files and the event log, exits non-zero if one is missing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { makeCtx } from "../context.js";
import { readEvents } from "../domain/events.js";
import { formatEvent, MAX, openBlockers, statusData, table } from "../hosts/cli.js";
import { isPidAlive, stopTree, waitForExit } from "../agents/terminals/process.js";
import { tmuxArg, tmuxLiteral } from "../agents/terminals/quote.js";
import { cell, visible, visibleBlock } from "../text/safe.js";
import type { TeamEvent } from "../schemas.js";
import { extensionPath } from "../agents/teammates.js";
import { demoScript, LEAD_PROMPT, REPO_FILES, TEAM } from "./script.js";

export interface DemoOptions {
  keep: boolean;
  /** tmux socket path (-S); default `tmux.sock` in the demo's temp dir, so removing that dir leaves nothing. */
  socketPath?: string;
  /** Which bundled pi to run: "0.73" (default) or "0.55". */
  pi?: string;
  timeoutMs?: number;
  /** Where to write progress (default stdout). */
  out?: NodeJS.WritableStream;
}

interface Step { id: string; label: string; done: (ev: TeamEvent[], ctx: DemoCtx) => boolean }
interface DemoCtx { repo: string; dataDir: string }

const has = (ev: TeamEvent[], kind: string, pred: (d: Record<string, unknown>) => boolean = () => true) => ev.some((e) => e.kind === kind && pred(e.data));
const count = (ev: TeamEvent[], kind: string, pred: (d: Record<string, unknown>) => boolean = () => true) => ev.filter((e) => e.kind === kind && pred(e.data)).length;

export const STEPS: Step[] = [
  { id: "team", label: "lead created the team", done: (ev) => has(ev, "team.created") },
  { id: "tasks", label: "two tasks, #2 blocked by #1", done: (ev) => has(ev, "task.created", (d) => d.id === "1") && has(ev, "task.created", (d) => d.id === "2" && Array.isArray(d.blockedBy) && d.blockedBy.includes("1")) },
  { id: "spawn", label: "spawned bob (plan mode) and alice in tmux panes", done: (ev) => has(ev, "teammate.spawned", (d) => d.name === "bob" && d.planModeRequired === true) && has(ev, "teammate.spawned", (d) => d.name === "alice") },
  { id: "greet", label: "both teammates greeted the lead", done: (ev) => count(ev, "message.sent", (d) => d.kind === "teammate_started") >= 2 },
  { id: "claim", label: "alice claimed #1", done: (ev) => has(ev, "task.claimed", (d) => d.id === "1" && d.owner === "alice") },
  { id: "veto", label: "completion hook vetoed alice's broken add()", done: (ev) => has(ev, "task.completion_vetoed", (d) => d.id === "1") },
  { id: "done1", label: "#1 completed, hook ran the tests: pass", done: (ev) => has(ev, "hook.ran", (d) => d.taskId === "1" && d.outcome === "ok") },
  { id: "unblock", label: "#2 unblocked, bob notified", done: (ev) => has(ev, "task.unblocked", (d) => Array.isArray(d.ids) && d.ids.includes("2")) },
  { id: "plan", label: "bob's plan submitted and approved by the lead", done: (ev) => has(ev, "plan.submitted", (d) => d.id === "2") && has(ev, "plan.approved", (d) => d.id === "2") },
  { id: "done2", label: "#2 completed, hook ran the tests: pass", done: (ev) => has(ev, "hook.ran", (d) => d.taskId === "2" && d.outcome === "ok") },
  { id: "mail", label: "messages flowed both ways", done: (ev) => has(ev, "message.sent", (d) => d.from === "team-lead" && d.to !== "team-lead") && has(ev, "message.sent", (d) => d.to === "team-lead" && d.from !== "team-lead" && d.kind === undefined) },
  { id: "stop", label: "both teammates shut down", done: (ev) => count(ev, "teammate.stopped") >= 2 },
];

/** Finds a bundled pi CLI: CLANKER_DEMO_PI (JSON argv), else node_modules, else `pi` on PATH. */
export function piCommand(version = "0.73", env = process.env): string[] {
  if (env.CLANKER_DEMO_PI) return JSON.parse(env.CLANKER_DEMO_PI) as string[];
  const pkg = version === "0.55" ? "pi055" : path.join("@mariozechner", "pi-coding-agent");
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const cli = path.join(dir, "node_modules", pkg, "dist", "cli.js");
    if (fs.existsSync(cli)) return [process.execPath, cli];
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return ["pi"];
}

function providerPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, "scripted-provider.js");
  return fs.existsSync(js) ? js : path.join(here, "scripted-provider.ts");
}

async function setupRepo(repo: string): Promise<void> {
  for (const [rel, text] of Object.entries(REPO_FILES)) {
    const f = path.join(repo, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
  }
  const git = (...args: string[]) => execa("git", args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_NAME: "demo", GIT_AUTHOR_EMAIL: "demo@example.invalid", GIT_COMMITTER_NAME: "demo", GIT_COMMITTER_EMAIL: "demo@example.invalid" } });
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-qm", "toy repo");
}

/** Remembers the first SIGINT/SIGTERM (instead of dying at once) and cuts short every {@link sleep}. */
class SignalStop {
  signal: NodeJS.Signals | undefined;
  private readonly sleepers = new Set<() => void>();
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.signal ??= sig;
    for (const wake of this.sleepers) wake();
  };

  constructor() {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  /** Waits `ms`, or less if a signal comes. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.signal) return resolve();
      const wake = () => { clearTimeout(timer); this.sleepers.delete(wake); resolve(); };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Gives SIGINT/SIGTERM back to their defaults. */
  dispose(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}

type Tmux = (...args: string[]) => Promise<{ exitCode?: number; stdout: string; stderr: string }>;

/** Stops every process of the demo's tmux server (agents, their tools, hooks) and the server; returns how many processes it stopped. */
async function teardown(tmux: Tmux, serverPid: number | undefined): Promise<{ stopped: number; survivors: number[] }> {
  const tree = serverPid ? await stopTree([serverPid]) : { pids: [], survivors: [] };
  await tmux("kill-server");
  if (serverPid && !(await waitForExit(serverPid, 3000))) {
    try { process.kill(serverPid, "SIGKILL"); } catch { /* gone */ }
    await waitForExit(serverPid, 2000);
  }
  const survivors = [...tree.survivors, ...(serverPid && isPidAlive(serverPid) ? [serverPid] : [])];
  return { stopped: tree.pids.length, survivors };
}

/** Who is really still running in the demo's tmux server: each agent's pane checked by pane id and pid. */
async function whatRuns(tmux: Tmux, lead: { paneId: string; pid: number }, events: TeamEvent[]): Promise<{ running: string[]; exited: string[] }> {
  const listed = await tmux("list-panes", "-a", "-F", "#{pane_id} #{pane_pid} #{pane_dead}");
  const panes = new Map(String(listed.stdout).split("\n").filter(Boolean).map((l) => { const [id, pid, dead] = l.split(" "); return [id, { pid: Number(pid), dead: dead === "1" }]; }));
  const agents = [{ name: "team-lead", ...lead }];
  for (const e of events) {
    if (e.kind !== "teammate.spawned") continue;
    const d = e.data as { name?: string; pane?: string; pid?: number };
    if (d.name && d.pane) agents.push({ name: d.name, paneId: d.pane, pid: d.pid ?? 0 });
  }
  const running: string[] = [];
  const exited: string[] = [];
  for (const a of agents.reverse()) {
    if (running.includes(a.name) || exited.includes(a.name)) continue; // a respawn: the latest pane counts
    const p = panes.get(a.paneId);
    const alive = !!p && !p.dead && (!a.pid || p.pid === a.pid) && isPidAlive(p.pid);
    (alive ? running : exited).push(cell(a.name));
  }
  return { running: running.reverse(), exited: exited.reverse() };
}

/** Runs the demo; returns the exit code (130 / 143 after SIGINT / SIGTERM, everything cleaned up). */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const tty = (out as NodeJS.WriteStream).isTTY === true && !process.env.NO_COLOR;
  const say = (s: string) => out.write(s + "\n");
  try {
    await execa("tmux", ["-V"]);
  } catch {
    say("The demo needs tmux: install it (apt-get install tmux / brew install tmux) and run it again.");
    return 1;
  }
  const stop = new SignalStop();
  const pi = piCommand(opts.pi);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-demo-"));
  const socketPath = opts.socketPath ?? path.join(tmp, "tmux.sock");
  const tmux: Tmux = (...args: string[]) => execa("tmux", ["-S", socketPath, "-f", "/dev/null", ...args], { reject: false });
  let serverPid: number | undefined;
  /** On a signal: stop everything, remove the temp dir, say so. */
  const interrupted = async (): Promise<number> => {
    say(`\nInterrupted (${stop.signal}): stopping the demo's agents and tmux server…`);
    const t = await teardown(tmux, serverPid);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (t.survivors.length) say(`Could not stop process(es) ${t.survivors.join(", ")}: kill them by hand.`);
    say(`Stopped ${t.stopped} process(es) and the tmux server; removed ${tmp}.`);
    return stop.signal === "SIGTERM" ? 143 : 130;
  };
  try {
    return await run();
  } finally {
    stop.dispose();
  }

  async function run(): Promise<number> {
    const repo = path.join(tmp, "repo");
    const dataDir = path.join(tmp, "data");
    const agentDir = path.join(tmp, "agent");
    const script = path.join(tmp, "script.json");
    fs.mkdirSync(repo, { recursive: true });
    fs.mkdirSync(agentDir, { recursive: true });
    fs.mkdirSync(path.join(tmp, "tmp"));
    await setupRepo(repo);
    fs.writeFileSync(script, JSON.stringify(demoScript(), null, 2));
    fs.writeFileSync(path.join(agentDir, "settings.json"), JSON.stringify({ extensions: [providerPath()], defaultProvider: "scripted", defaultModel: "scripted-1", quietStartup: true }, null, 2));
    if (stop.signal) return interrupted();
    const session = "clanker-demo";
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PI_CODING_AGENT_DIR: agentDir,
      PI_OFFLINE: "1",
      CLANKER_TEST_SCRIPT: script,
      CLANKER_TEAMS_DIR: dataDir,
      CLANKER_TEAMS_AGENT_CMD: JSON.stringify(pi),
      CLANKER_SHUTDOWN_GRACE_MS: "15000",
      // The agents' own temp files (pi's jiti cache, tool output) go in the demo's dir, so cleaning up removes them too.
      TMPDIR: path.join(tmp, "tmp"),
    };
    const attach = `tmux -S ${socketPath} attach -t ${session}`;
    say(`clanker-teams demo: a lead and two teammates (pi ${opts.pi ?? "0.73"}, scripted model) in tmux`);
    say(`  repo ${repo}\n  data ${dataDir}\n  watch the panes: ${attach}`);
    const leadArgv = [...pi, "--no-session", "-e", extensionPath(), LEAD_PROMPT];
    const started = Date.now();
    // One tmux command line, so the options are set before any pane starts: pi asks tmux for
    // extended-keys (on) and, on tmux 3.5+, extended-keys-format (csi-u), and warns in every pane otherwise.
    const r = await tmux(
      "start-server", ";",
      "set-option", "-g", "extended-keys", "on", ";",
      "set-option", "-gq", "extended-keys-format", "csi-u", ";",
      "new-session", "-d", "-s", session, "-x", "220", "-y", "50", "-c", tmuxLiteral(repo), "-P", "-F", "#{pane_id} #{pane_pid} #{pid}",
      ...Object.entries(env).flatMap(([k, v]) => ["-e", tmuxArg(`${k}=${v}`)]), ...leadArgv.map(tmuxArg),
    );
    if (r.exitCode !== 0) {
      say(`could not start tmux: ${visibleBlock(r.stderr)}`);
      await teardown(tmux, undefined);
      fs.rmSync(tmp, { recursive: true, force: true });
      return 1;
    }
    const [leadPane = "", leadPid = "0", server = "0"] = String(r.stdout).trim().split("\n").at(-1)!.split(" ");
    serverPid = Number(server) || undefined;
    const lead = { paneId: leadPane, pid: Number(leadPid) };
    await tmux("set-option", "-t", session, "remain-on-exit", "on");
    await tmux("select-pane", "-t", leadPane, "-T", "team-lead");
    if (stop.signal) return interrupted();

    const ctx = makeCtx({ dataDir, actor: "team-lead", cwd: repo, env: { ...process.env, CLANKER_TEAMS_DIR: dataDir } });
    const timeoutMs = opts.timeoutMs ?? Number(process.env.CLANKER_DEMO_TIMEOUT_MS ?? 240_000);
    const done = new Set<string>();
    let events: TeamEvent[] = [];
    let lastBoard = "";
    const draw = async () => {
      const board = await renderBoard(ctx, events, done, started);
      if (board !== lastBoard) { out.write("\x1b[H\x1b[2J" + board + "\n"); lastBoard = board; }
    };
    let nextWait = 15_000;
    while (Date.now() - started < timeoutMs && done.size < STEPS.length && !stop.signal) {
      await stop.sleep(500);
      if (stop.signal) break;
      try { events = await readEvents(ctx, TEAM); } catch { events = []; }
      for (const s of STEPS) {
        if (!done.has(s.id) && s.done(events, { repo, dataDir })) {
          done.add(s.id);
          if (!tty) say(`  ✓ ${s.label}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        }
      }
      if (tty) await draw();
      else if (Date.now() - started >= nextWait) {
        say(`  … waiting (${Math.round((Date.now() - started) / 1000)} s, ${done.size}/${STEPS.length} steps)`);
        nextWait += 15_000;
      }
    }
    if (stop.signal) return interrupted();
    if (tty) await draw();
    // The step list was shown once (the board, or a line per step as it happened): here only the outcome and what is missing.
    const missing = STEPS.filter((s) => !done.has(s.id));
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    say("");
    say(missing.length ? `Demo FAILED after ${secs} s: ${missing.length} step(s) did not happen:` : `Demo passed: all ${STEPS.length} steps in ${secs} s.`);
    for (const s of missing) say(`  ✗ ${s.label}`);
    const msgs = events.filter((e) => e.kind === "message.sent").length;
    const hooks = events.filter((e) => e.kind === "hook.ran").map((e) => `#${cell(e.data.taskId)} ${cell(e.data.outcome)}`);
    say(`  ${events.length} events, ${msgs} messages, hook runs: ${hooks.join(", ") || "none"}`);
    if (missing.length) {
      const cap = await tmux("capture-pane", "-p", "-t", leadPane);
      say("\nLead pane (last lines):\n" + String(cap.stdout).split("\n").filter(Boolean).slice(-15).map(visible).join("\n"));
    }
    if (opts.keep) {
      const { running, exited } = await whatRuns(tmux, lead, events);
      say("");
      if (running.length) say(`Still running: ${running.join(", ")}. Look: ${attach}`);
      else say(`No agent is running any more; the tmux server keeps their panes to read: ${attach}`);
      if (exited.length) say(`Exited: ${exited.join(", ")}.`);
      say(`Kept ${tmp}. Stop and remove everything: tmux -S ${socketPath} kill-server; rm -rf ${tmp}`);
      return missing.length ? 1 : 0;
    }
    const t = await teardown(tmux, serverPid);
    if (t.survivors.length) say(`Could not stop process(es) ${t.survivors.join(", ")}: kill them by hand.`);
    if (missing.length) {
      say(`Stopped ${t.stopped} process(es) and the tmux server. Kept for inspection: ${tmp} (events: ${path.join(dataDir, "teams", TEAM, "events.jsonl")})`);
    } else {
      fs.rmSync(tmp, { recursive: true, force: true });
      say(`Stopped ${t.stopped} process(es) and the tmux server; removed ${tmp}.`);
    }
    return missing.length ? 1 : 0;
  }
}

/** The live board: members, tasks (with unfinished blockers), recent messages, steps. Agent text is made visible. */
export async function renderBoard(ctx: ReturnType<typeof makeCtx>, events: TeamEvent[], done: Set<string>, started: number): Promise<string> {
  const lines = [`clanker-teams demo — ${((Date.now() - started) / 1000).toFixed(0)} s`, ""];
  try {
    const d = await statusData(ctx, TEAM);
    lines.push(table([["MEMBER", "STATE", "UNREAD", "TASK"], ...d.members.map((m) => [cell(m.name, MAX.name), cell(m.state), String(m.unread), m.currentTask ? `#${cell(m.currentTask)}` : "-"])]), "");
    const all = Object.values(d.tasks).flat();
    const rows: string[][] = [];
    for (const [st, list] of Object.entries(d.tasks)) {
      for (const t of list) {
        const open = openBlockers(t, all);
        rows.push([`#${cell(t.id)}`, st, t.owner ? cell(t.owner, MAX.name) : "-", cell(t.subject, MAX.subject) + (open.length ? ` (blocked by ${open.map((b) => "#" + cell(b)).join(", ")})` : "")]);
      }
    }
    if (rows.length) lines.push(table([["TASK", "STATUS", "OWNER", "SUBJECT"], ...rows]), "");
  } catch {
    lines.push("(waiting for the lead to create the team)", "");
  }
  lines.push("Recent messages:");
  for (const e of events.filter((x) => x.kind === "message.sent").slice(-6)) lines.push("  " + formatEvent(e));
  lines.push("", ...STEPS.map((s) => `${done.has(s.id) ? "✓" : "·"} ${s.label}`));
  return lines.join("\n");
}
