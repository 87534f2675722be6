/**
 * Completion hooks: `.clanker/team-hooks/task_completed.sh` in the completing
 * agent's working directory, run after the task is saved and outside every
 * lock. Exit 0 = fine, exit 2 = veto (task goes back to in_progress with the
 * output as feedback), anything else = reported failure.
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { HookResult, HookRunner } from "./context.js";

export const HOOK_RELATIVE_PATH = path.join(".clanker", "team-hooks", "task_completed.sh");
export const OUTPUT_TAIL_CHARS = 4000;

/** The default hook runner. */
export const runCompletionHook: HookRunner = async ({ team, task, agent, cwd, timeoutMs, env }) => {
  const file = path.join(cwd, HOOK_RELATIVE_PATH);
  if (!fs.existsSync(file)) return { ran: false, outcome: "missing", path: file };
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return { ran: false, outcome: "not_executable", path: file, outputTail: `${file} exists but is not executable; run: chmod +x ${HOOK_RELATIVE_PATH}` };
  }
  const json = JSON.stringify(task);
  const t = task as { id?: string; subject?: string };
  const started = Date.now();
  // Own process group, so a timeout kills the hook's children (test runners) too.
  const child = execa(file, [argvJson(task, json)], {
    cwd,
    input: json,
    env: { ...env, CLANKER_TEAM: team, CLANKER_TASK_ID: String(t.id ?? ""), CLANKER_TASK_SUBJECT: String(t.subject ?? ""), CLANKER_AGENT: agent },
    reject: false,
    all: true,
    detached: true,
    stripFinalNewline: true,
    maxBuffer: 16 * 1024 * 1024,
  });
  let timedOut = false;
  const killGroup = (sig: NodeJS.Signals) => { try { if (child.pid) process.kill(-child.pid, sig); } catch { /* gone */ } };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    setTimeout(() => killGroup("SIGKILL"), 2000).unref();
  }, timeoutMs);
  try {
    const r = await child;
    const out = tail(String(r.all ?? ""));
    const durationMs = Date.now() - started;
    if (timedOut) return { ran: true, outcome: "timeout", path: file, durationMs, outputTail: `${out}\n[hook timed out after ${Math.round(timeoutMs / 1000)} s and was killed; raise CLANKER_HOOK_TIMEOUT_MS if it needs longer]`.trim() };
    if (r.failed && r.exitCode === undefined) return { ran: true, outcome: "error", path: file, durationMs, outputTail: `${out}\n${r.shortMessage ?? r.message}`.trim() };
    const code = r.exitCode ?? -1;
    return { ran: true, outcome: code === 0 ? "ok" : code === 2 ? "veto" : "failed", exitCode: code, path: file, durationMs, outputTail: out };
  } finally {
    clearTimeout(timer);
  }
};

/** Linux refuses a single argv string over 128 KiB (E2BIG); stay well below. */
const ARGV_MAX_BYTES = 96 * 1024;

/** The task JSON for $1: the full JSON, or (when too big for argv) one with long texts cut; stdin always has it all. */
function argvJson(task: unknown, json: string): string {
  if (Buffer.byteLength(json) <= ARGV_MAX_BYTES) return json;
  const short: Record<string, unknown> = { ...(task as Record<string, unknown>), truncated: "long fields cut to fit argv; the full task JSON is on stdin" };
  for (const [k, v] of Object.entries(short)) if (typeof v === "string" && v.length > 2000) short[k] = v.slice(0, 2000) + "…";
  return JSON.stringify(short);
}

function tail(s: string): string {
  return s.length <= OUTPUT_TAIL_CHARS ? s : "…" + s.slice(-OUTPUT_TAIL_CHARS);
}
