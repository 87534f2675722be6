/**
 * Repo hooks: `.clanker/team-hooks/<name>.sh` in the acting agent's working
 * directory, run outside every lock with the payload JSON as $1 and on stdin.
 * One runner (runRepoHook) for every hook; runCompletionHook is the
 * task_completed one: exit 0 = fine, exit 2 = veto (task goes back to
 * in_progress with the output as feedback), anything else = reported failure.
 *
 * The hook's own exit decides, never its children: the call returns when the
 * hook process exits (or at the timeout), then every process it left behind is
 * killed and reported. Those are found by a per-run marker in their
 * environment (CLANKER_HOOK_RUN, so `setsid` children are found too) and by
 * process group and session; without /proc, by process group only.
 */
import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { HookResult, HookRunner } from "../context.js";

export const HOOKS_DIR = path.join(".clanker", "team-hooks");
/** Set for worktree teammates (agents/isolation.ts): the main checkout, whose hooks apply when the worktree has none. */
const MAIN_REPO_ENV = "CLANKER_TEAMS_MAIN_REPO";
export const HOOK_RELATIVE_PATH = path.join(HOOKS_DIR, "task_completed.sh");
export const OUTPUT_TAIL_CHARS = 4000;
/** After the hook exits, how long its leftovers get after SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 500;
/** After a timeout, how long the hook and its descendants get after SIGTERM before SIGKILL. */
const TIMEOUT_GRACE_MS = 1000;
/** How long to keep reading output already in the pipes once nothing we know of can write to them. */
const DRAIN_MS = 300;
const MAX_LISTED_LEFTOVERS = 5;

/** What runRepoHook needs: the payload goes to the hook as JSON ($1 and stdin). */
export interface RepoHookInput {
  team: string;
  payload: unknown;
  /** The acting agent (CLANKER_AGENT). */
  agent: string;
  /** The hook is `<cwd>/.clanker/team-hooks/<name>.sh` and runs here. */
  cwd: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** Hook-specific variables (CLANKER_TASK_ID, …). */
  extraEnv?: Record<string, string>;
}

/** The default runner of the task hooks: task_completed (the completed task), task_created (the task about to be created, no id yet). */
export const runCompletionHook: HookRunner = ({ team, task, agent, cwd, timeoutMs, env, hook }) => {
  const t = task as { id?: string; subject?: string };
  return runRepoHook(hook ?? "task_completed", {
    team, payload: task, agent, cwd, timeoutMs, env,
    extraEnv: { CLANKER_TASK_ID: String(t.id ?? ""), CLANKER_TASK_SUBJECT: String(t.subject ?? "") },
  });
};

/** Runs `.clanker/team-hooks/<hookName>.sh` if present; never throws for anything the hook or its file does. */
export async function runRepoHook(hookName: string, input: RepoHookInput): Promise<HookResult> {
  if (!/^[a-z][a-z0-9_]*$/.test(hookName)) throw new Error(`hook name must be lower-case letters, digits and _ (got ${JSON.stringify(hookName)})`);
  const { team, payload, agent, cwd, timeoutMs, env, extraEnv } = input;
  const rel = path.join(HOOKS_DIR, `${hookName}.sh`);
  let file = path.join(cwd, rel);
  let problem = inspectHookFile(cwd, file, rel);
  // A worktree teammate's checkout lacks hooks that are not committed: those of the main checkout apply (run here).
  const main = env[MAIN_REPO_ENV]?.trim();
  if (problem?.outcome === "missing" && main && path.resolve(main) !== path.resolve(cwd)) {
    file = path.join(main, rel);
    problem = inspectHookFile(main, file, rel);
  }
  if (problem) return { ran: false, path: file, ...problem };

  const json = JSON.stringify(payload ?? null);
  // Marks every process this run starts; kept through nested hook runs (a:b).
  const nonce = `${process.pid}.${randomBytes(6).toString("hex")}`;
  const marker = env.CLANKER_HOOK_RUN ? `${env.CLANKER_HOOK_RUN}:${nonce}` : nonce;
  const started = Date.now();
  let child: ChildProcess;
  try {
    // detached: the hook leads its own session and process group, so killing them reaches its plain children.
    child = spawn(file, [argvJson(payload, json)], {
      cwd,
      env: { ...env, CLANKER_TEAM: team, CLANKER_AGENT: agent, ...extraEnv, CLANKER_HOOK_RUN: marker },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (e) {
    return { ran: false, outcome: "error", path: file, durationMs: Date.now() - started, outputTail: `cannot start ${file}: ${(e as Error).message}` };
  }

  // Its descendants all started after it: older processes need no environ read.
  const hookStart = child.pid === undefined ? 0 : procStat(child.pid)?.start ?? 0;
  const out = new Tail(OUTPUT_TAIL_CHARS);
  const eof: Array<Promise<void>> = [];
  for (const s of [child.stdout, child.stderr]) {
    if (!s) continue;
    s.setEncoding("utf8");
    s.on("data", (d: string) => out.push(d));
    eof.push(new Promise((res) => { s.once("close", res); s.once("end", res); s.on("error", () => res()); }));
  }
  child.stdin?.on("error", () => { /* the hook need not read stdin (EPIPE) */ });
  child.stdin?.end(json);

  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((res) => {
    child.once("exit", (code, signal) => { exit = { code, signal }; res(exit); });
    child.on("error", (error) => { if (child.pid === undefined) res({ error }); });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((res) => { timer = setTimeout(() => res("timeout"), timeoutMs); });
  const first = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (first !== "timeout" && "error" in first) {
    release(child);
    const e = first.error as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "its interpreter (the #! line) was not found" : e.message;
    return { ran: false, outcome: "error", path: file, durationMs: Date.now() - started, outputTail: `cannot run ${file}: ${why}` };
  }

  const timedOut = first === "timeout";
  const pid = child.pid!;
  // On timeout the hook itself is among those killed; either way everything it started goes.
  const leftovers = await killAll({ hookPid: pid, nonce, since: hookStart }, timedOut ? TIMEOUT_GRACE_MS : LEFTOVER_GRACE_MS, () => exit !== undefined);
  if (timedOut && !exit) await Promise.race([exited, sleep(500)]);
  // Read what is still in the pipes; a writer we could not find must not hold us: stop after DRAIN_MS.
  await Promise.race([Promise.all(eof), sleep(DRAIN_MS)]);
  const durationMs = Date.now() - started;
  release(child);

  const notes: string[] = [];
  if (timedOut) notes.push(`[hook timed out after ${fmtSeconds(timeoutMs)} and was killed with everything it started; raise CLANKER_HOOK_TIMEOUT_MS if it needs longer]`);
  else if (exit?.signal) notes.push(`[hook was killed by ${exit.signal}]`);
  if (leftovers.length) {
    const listed = leftovers.slice(0, MAX_LISTED_LEFTOVERS).join("; ");
    const more = leftovers.length > MAX_LISTED_LEFTOVERS ? `; and ${leftovers.length - MAX_LISTED_LEFTOVERS} more` : "";
    const what = timedOut ? "the hook had running at the timeout" : "the hook left running";
    notes.push(`[killed ${leftovers.length} process${leftovers.length === 1 ? "" : "es"} ${what}: ${listed}${more}]`);
  }
  const outputTail = [out.text(), ...notes].filter(Boolean).join("\n");
  const base = { ran: true, path: file, durationMs, outputTail, ...(leftovers.length ? { leftovers } : {}) };
  if (timedOut) return { ...base, outcome: "timeout" };
  if (exit?.signal) return { ...base, outcome: "failed", exitCode: 128 + (os.constants.signals[exit.signal] ?? 0), signal: exit.signal };
  const code = exit?.code ?? -1;
  return { ...base, outcome: code === 0 ? "ok" : code === 2 ? "veto" : "failed", exitCode: code };
}

/** Why the hook file cannot run, or undefined when it can. A missing hook is "missing"; anything else present but unusable is reported. */
function inspectHookFile(cwd: string, file: string, rel: string): Omit<HookResult, "ran" | "path"> | undefined {
  const broken = (why: string) => ({ outcome: "broken" as const, outputTail: `${why}; the hook did not run, so nothing can veto or check this. Fix or remove it.` });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") return broken(`cannot read ${file} (${code})`);
    // A dangling symlink for the hooks directory (shared hooks not checked out) hides the hook just as well.
    for (const dir of [path.join(cwd, HOOKS_DIR), path.join(cwd, ".clanker")]) {
      const why = danglingLink(dir);
      if (why) return broken(`${dir} ${why}`);
    }
    return { outcome: "missing" };
  }
  if (st.isSymbolicLink()) {
    const why = danglingLink(file);
    if (why) return broken(`${file} ${why}`);
    st = fs.statSync(file);
  }
  if (st.isDirectory()) return broken(`${file} is a directory, not a script`);
  if (!st.isFile()) return broken(`${file} is not a regular file`);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return { outcome: "not_executable", outputTail: `${file} exists but is not executable; run: chmod +x ${rel}` };
  }
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    return broken(`${file} is not readable; run: chmod +r ${rel}`);
  }
  return undefined;
}

/** "is a dangling symlink to X" (or a loop, or unreachable) when p is a symlink that does not resolve; else undefined. */
function danglingLink(p: string): string | undefined {
  try {
    if (!fs.lstatSync(p).isSymbolicLink()) return undefined;
  } catch {
    return undefined;
  }
  let target = "?";
  try { target = fs.readlinkSync(p); } catch { /* raced away */ }
  try {
    fs.statSync(p);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") return `is a symlink loop (-> ${target})`;
    if (code === "ENOENT" || code === "ENOTDIR") return `is a dangling symlink to ${target}`;
    return `is a symlink to ${target} that cannot be followed (${code})`;
  }
}

/**
 * Kills (SIGTERM, then SIGKILL after graceMs) every process of this run other
 * than the hook, and the hook itself while it runs; returns the others as
 * "pid N cmdline". Bounded: returns by graceMs + 1 s whatever they do.
 */
async function killAll(run: Run, graceMs: number, hookExited: () => boolean): Promise<string[]> {
  const { hookPid } = run;
  const seen = new Map<number, string>();
  const termed = new Set<number>();
  const killAt = Date.now() + graceMs;
  const giveUpAt = killAt + 1000;
  for (;;) {
    const found = findRunProcesses(run);
    const others = found.filter((p) => p !== hookPid);
    for (const p of others) if (!seen.has(p)) seen.set(p, describe(p, hookPid));
    const targets = hookExited() ? others : [hookPid, ...others];
    if (!targets.length || Date.now() > giveUpAt) break;
    const sig: NodeJS.Signals = Date.now() >= killAt ? "SIGKILL" : "SIGTERM";
    for (const p of targets) {
      if (sig === "SIGTERM" && termed.has(p)) continue;
      termed.add(p);
      signal(p, sig);
    }
    await sleep(20);
  }
  return [...seen.values()];
}

/**
 * Running processes of this run: on Linux those whose environment carries the
 * marker, or in the hook's process group or session; elsewhere the hook's
 * process group as a whole (-pgid) when anything is left in it.
 */
function findRunProcesses({ hookPid, nonce, since }: Run): number[] {
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
    if (!names.includes("self")) throw new Error("no procfs");
  } catch {
    try { process.kill(-hookPid, 0); return [-hookPid]; } catch { return []; }
  }
  const pids: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = procStat(pid);
    if (!stat || stat.state === "Z" || stat.state === "X" || stat.start < since) continue;
    if (stat.pgrp === hookPid || stat.session === hookPid || hasMarker(pid, nonce)) pids.push(pid);
  }
  return pids;
}

/** One hook run: its pid (= process group and session id), env marker, and start time (clock ticks since boot, 0 if unknown). */
interface Run { hookPid: number; nonce: string; since: number }

function procStat(pid: number): { state: string; pgrp: number; session: number; start: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: fields start after the last ")".
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], pgrp: Number(f[2]), session: Number(f[3]), start: Number(f[19]) };
  } catch {
    return undefined;
  }
}

function hasMarker(pid: number, nonce: string): boolean {
  let env: string;
  try { env = fs.readFileSync(`/proc/${pid}/environ`, "latin1"); } catch { return false; }
  const i = env.indexOf("\0CLANKER_HOOK_RUN=");
  const at = env.startsWith("CLANKER_HOOK_RUN=") ? 0 : i < 0 ? -1 : i + 1;
  if (at < 0) return false;
  const end = env.indexOf("\0", at);
  return env.slice(at + "CLANKER_HOOK_RUN=".length, end < 0 ? undefined : end).split(":").includes(nonce);
}

function describe(pid: number, hookPid: number): string {
  if (pid < 0) return `process group ${hookPid}`;
  let cmd = "";
  try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" "); } catch { /* gone */ }
  if (cmd.length > 120) cmd = cmd.slice(0, 119) + "…";
  return `pid ${pid} ${cmd || "?"}`.trim();
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* already gone */ }
}

/** Closes our ends of the pipes so nothing the hook left keeps this process (or the tool call) alive. */
function release(child: ChildProcess): void {
  for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
  child.unref();
}

/** The last `max` characters of everything pushed, without ever holding more than 2×max. */
class Tail {
  private s = "";
  private cut = false;
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    this.s += chunk;
    if (this.s.length > 2 * this.max) { this.s = this.s.slice(-this.max); this.cut = true; }
  }
  text(): string {
    const s = this.s.replace(/\r?\n$/, "");
    return !this.cut && s.length <= this.max ? s : "…" + s.slice(-this.max);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmtSeconds = (ms: number) => (ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 1000)} s`);

/** Linux refuses a single argv string over 128 KiB (E2BIG); stay well below. */
const ARGV_MAX_BYTES = 96 * 1024;

/** The payload JSON for $1: the full JSON, or (when too big for argv) one with long texts cut; stdin always has it all. */
function argvJson(payload: unknown, json: string): string {
  if (Buffer.byteLength(json) <= ARGV_MAX_BYTES) return json;
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) return JSON.stringify({ truncated: "too big for argv; the full JSON is on stdin" });
  const short: Record<string, unknown> = { ...(payload as Record<string, unknown>), truncated: "long fields cut to fit argv; the full JSON is on stdin" };
  for (const [k, v] of Object.entries(short)) if (typeof v === "string" && v.length > 2000) short[k] = v.slice(0, 2000) + "…";
  const s = JSON.stringify(short);
  return Buffer.byteLength(s) <= ARGV_MAX_BYTES ? s : JSON.stringify({ truncated: "too big for argv; the full JSON is on stdin" });
}
