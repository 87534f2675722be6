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
import { readEvents } from "../events.js";
import { statusData, table, formatEvent } from "../hosts/cli.js";
import type { TeamEvent } from "../schemas.js";
import { extensionPath } from "../teammates.js";
import { demoScript, LEAD_PROMPT, REPO_FILES, TEAM } from "./script.js";

export interface DemoOptions {
  keep: boolean;
  /** tmux socket name (-L); default a fresh private one. */
  socket?: string;
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

/** Runs the demo; returns the exit code. */
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
  const pi = piCommand(opts.pi);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-demo-"));
  const repo = path.join(tmp, "repo");
  const dataDir = path.join(tmp, "data");
  const agentDir = path.join(tmp, "agent");
  const script = path.join(tmp, "script.json");
  fs.mkdirSync(repo, { recursive: true });
  fs.mkdirSync(agentDir, { recursive: true });
  await setupRepo(repo);
  fs.writeFileSync(script, JSON.stringify(demoScript(), null, 2));
  fs.writeFileSync(path.join(agentDir, "settings.json"), JSON.stringify({ extensions: [providerPath()], defaultProvider: "scripted", defaultModel: "scripted-1", quietStartup: true }, null, 2));
  const socket = opts.socket ?? `clanker-demo-${process.pid}`;
  const session = "clanker-demo";
  const tmux = (...args: string[]) => execa("tmux", ["-L", socket, "-f", "/dev/null", ...args], { reject: false });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    PI_CODING_AGENT_DIR: agentDir,
    PI_OFFLINE: "1",
    CLANKER_TEST_SCRIPT: script,
    CLANKER_TEAMS_DIR: dataDir,
    CLANKER_TEAMS_AGENT_CMD: JSON.stringify(pi),
    CLANKER_SHUTDOWN_GRACE_MS: "15000",
  };
  say(`clanker-teams demo: a lead and two teammates (pi ${opts.pi ?? "0.73"}, scripted model) in tmux`);
  say(`  repo ${repo}\n  data ${dataDir}\n  watch the panes: tmux -L ${socket} attach -t ${session}`);
  const leadArgv = [...pi, "--no-session", "-e", extensionPath(), LEAD_PROMPT];
  const started = Date.now();
  const r = await tmux("new-session", "-d", "-s", session, "-x", "220", "-y", "50", "-c", repo, ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), ...leadArgv);
  if (r.exitCode !== 0) {
    say(`could not start tmux: ${r.stderr}`);
    return 1;
  }
  await tmux("set-option", "-t", session, "remain-on-exit", "on");
  await tmux("select-pane", "-t", session, "-T", "team-lead");

  const ctx = makeCtx({ dataDir, actor: "team-lead", cwd: repo, env: { ...process.env, CLANKER_TEAMS_DIR: dataDir } });
  const timeoutMs = opts.timeoutMs ?? Number(process.env.CLANKER_DEMO_TIMEOUT_MS ?? 240_000);
  const done = new Set<string>();
  let events: TeamEvent[] = [];
  let lastBoard = "";
  while (Date.now() - started < timeoutMs && done.size < STEPS.length) {
    await new Promise((res) => setTimeout(res, 500));
    try { events = readEvents(ctx, TEAM); } catch { events = []; }
    for (const s of STEPS) {
      if (!done.has(s.id) && s.done(events, { repo, dataDir })) {
        done.add(s.id);
        if (!tty) say(`  ✓ ${s.label}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    if (tty) {
      const board = renderBoard(ctx, events, done, started);
      if (board !== lastBoard) { out.write("\x1b[H\x1b[2J" + board + "\n"); lastBoard = board; }
    } else if ((Date.now() - started) % 15_000 < 500) {
      say(`  … waiting (${Math.round((Date.now() - started) / 1000)} s, ${done.size}/${STEPS.length} steps)`);
    }
  }
  const missing = STEPS.filter((s) => !done.has(s.id));
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  say("");
  say(missing.length ? `Demo FAILED after ${secs} s: ${missing.length} step(s) did not happen:` : `Demo passed: all ${STEPS.length} steps in ${secs} s.`);
  for (const s of STEPS) say(`  ${done.has(s.id) ? "✓" : "✗"} ${s.label}`);
  const msgs = events.filter((e) => e.kind === "message.sent").length;
  const hooks = events.filter((e) => e.kind === "hook.ran").map((e) => `#${e.data.taskId} ${e.data.outcome}`);
  say(`  ${events.length} events, ${msgs} messages, hook runs: ${hooks.join(", ") || "none"}`);
  if (missing.length) {
    const cap = await tmux("capture-pane", "-p", "-t", `${session}:0.0`);
    say("\nLead pane (last lines):\n" + String(cap.stdout).split("\n").filter(Boolean).slice(-15).join("\n"));
    say(`\nKept for inspection: ${tmp} (events: ${path.join(dataDir, "teams", TEAM, "events.jsonl")})`);
  }
  if (opts.keep) {
    say(`\nThe panes are still running: tmux -L ${socket} attach -t ${session}   (stop: tmux -L ${socket} kill-server)`);
  } else {
    await tmux("kill-server");
    if (!missing.length) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return missing.length ? 1 : 0;
}

function renderBoard(ctx: ReturnType<typeof makeCtx>, events: TeamEvent[], done: Set<string>, started: number): string {
  const lines = [`clanker-teams demo — ${((Date.now() - started) / 1000).toFixed(0)} s`, ""];
  try {
    const d = statusData(ctx, TEAM);
    lines.push(table([["MEMBER", "STATE", "UNREAD", "TASK"], ...d.members.map((m) => [m.name, m.state, String(m.unread), m.currentTask ? `#${m.currentTask}` : "-"])]), "");
    const rows: string[][] = [];
    for (const [st, list] of Object.entries(d.tasks)) for (const t of list) rows.push([`#${t.id}`, st, t.owner ?? "-", t.subject]);
    if (rows.length) lines.push(table([["TASK", "STATUS", "OWNER", "SUBJECT"], ...rows]), "");
  } catch {
    lines.push("(waiting for the lead to create the team)", "");
  }
  lines.push("Recent messages:");
  for (const e of events.filter((x) => x.kind === "message.sent").slice(-6)) lines.push("  " + formatEvent(e));
  lines.push("", ...STEPS.map((s) => `${done.has(s.id) ? "✓" : "·"} ${s.label}`));
  return lines.join("\n");
}
