/**
 * Shared helpers for the real-pi end-to-end tests (test/e2e/*.e2e.test.ts):
 * a temp "world" (data dir, script, hermetic env, library contexts), polling,
 * file readers, and a tmux server whose panes keep TMUX/TMUX_PANE (the
 * harness's startPiInTmux clears them with `env -i`, so spawn_teammate could
 * not split the lead's window).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { makeCtx, unreadPeek, type Ctx } from "../../dist/src/index.js";
import { Layout } from "../../dist/src/store/json/layout.js";
import {
  REPO_ROOT, hermeticArgs, hermeticEnv, makeTmp, piBin, readScriptLog, rmTmp, writeScript,
  type PiVersion, type Script, type ScriptLogEntry,
} from "../support/pi-harness.js";

/** The built extension, as pi loads it. */
export const EXT = join(REPO_ROOT, "dist", "src", "hosts", "pi-extension.js");
/** Test-only probe: exposes the extension's live watcher/timer counters as a tool, and a reload command. */
export const DEBUG_PROBE = join(REPO_ROOT, "test", "e2e", "fixtures", "debug-probe.ts");

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it returns something truthy; fails naming `what` (and the last value of `show`). */
export async function until<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 30_000, show?: () => unknown): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) {
      const last = show ? await show() : undefined;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${show ? `; last: ${typeof last === "string" ? last : JSON.stringify(last)}`.slice(0, 3000) : ""}`);
    }
    await sleep(100);
  }
}

export function readJson<T = any>(file: string): T | undefined {
  try { return JSON.parse(readFileSync(file, "utf8")) as T; } catch { return undefined; }
}

export function readJsonl<T = any>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as T);
}

export interface World {
  tmp: string;
  scriptFile: string;
  dataDir: string;
  env: Record<string, string>;
  /** A library context acting as `actor` on this world's data dir. */
  ctx(actor?: string, cwd?: string): Ctx;
  calls(agent?: string): ScriptLogEntry[];
  events(team: string): Array<{ seq: number; kind: string; actor: string; data: any; time: string }>;
  config(team: string): any;
  task(team: string, id: string): any;
  presence(team: string, agent: string): any;
  inbox(team: string, agent: string): { messages: any[] } | undefined;
  /** Unread messages of an inbox (what the agent has not been given yet). */
  spool(team: string, agent: string): Promise<any[]>;
  cleanup(): void;
}

/** A temp dir with a script, a data dir and a hermetic env for pi processes. */
export function makeWorld(script: Script, extraEnv: Record<string, string> = {}): World {
  const tmp = makeTmp("clanker-e2e-");
  const scriptFile = join(tmp, "script.json");
  writeScript(scriptFile, script);
  const dataDir = join(tmp, "clanker");
  const env = hermeticEnv(tmp, { CLANKER_TEST_SCRIPT: scriptFile, ...extraEnv });
  const ctx = (actor = "team-lead", cwd = tmp) => makeCtx({ dataDir, actor, cwd, env: { ...env } });
  // The documented files (written from the store's log within ~100 ms of a change): what a script would read.
  const p = new Layout(dataDir);
  return {
    tmp, scriptFile, dataDir, env, ctx,
    calls: (agent) => readScriptLog(scriptFile).filter((c) => agent === undefined || c.agent === agent),
    events: (team) => readJsonl(p.events(team)),
    config: (team) => readJson(p.teamConfig(team)),
    task: (team, id) => readJson(p.taskFile(team, id)),
    presence: (team, agent) => readJson(p.runtimeFile(team, agent)),
    inbox: (team, agent) => readJson(p.inbox(team, agent)),
    // Unread mail: spool lines (and leftovers of a reader) not yet in the inbox file, duplicates dropped.
    // Raw spool lines are not the measure: a sender whose spool was rotated mid-send writes again.
    spool: (team, agent) => unreadPeek(ctx(), team, agent),
    cleanup: () => removeTree(tmp),
  };
}

/** rm -rf that tolerates processes still writing into the tree for a moment (E2E_KEEP=1 keeps it). */
export function removeTree(dir: string): void {
  if (process.env.E2E_KEEP) return void console.log(`kept ${dir}`);
  for (let i = 0; ; i++) {
    try { return rmTmp(dir); } catch (e) { if (i >= 5) throw e; execFileSync("sleep", ["0.2"]); }
  }
}

/** A throwaway git repo with an executable completion hook that appends the task JSON to `marker`. */
export function makeRepoWithHook(dir: string, marker: string): void {
  mkdirSync(join(dir, ".clanker", "team-hooks"), { recursive: true });
  execFileSync("git", ["init", "-q", dir]);
  const hook = join(dir, ".clanker", "team-hooks", "task_completed.sh");
  writeFileSync(hook, `#!/bin/sh\nprintf '%s agent=%s task=%s\\n' "$CLANKER_TEAM" "$CLANKER_AGENT" "$CLANKER_TASK_ID" >> '${marker}'\nexit 0\n`);
  chmodSync(hook, 0o755);
}

/** Model calls whose newest user/tool message contains `text`. */
export function callsSeeing(calls: ScriptLogEntry[], text: string): ScriptLogEntry[] {
  return calls.filter((c) => c.lastText.includes(text));
}

// ---- tmux with TMUX/TMUX_PANE kept ----

export async function tmuxRun(socket: string, args: string[]): Promise<string> {
  const r = await execa("tmux", ["-L", socket, "-f", "/dev/null", ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

export interface Pane {
  socket: string;
  paneId: string;
  capture(): Promise<string>;
  isAlive(): Promise<boolean>;
}

export function paneHandle(socket: string, paneId: string): Pane {
  return {
    socket,
    paneId,
    capture: () => tmuxRun(socket, ["capture-pane", "-p", "-t", paneId, "-S", "-200"]),
    async isAlive() {
      const r = await execa("tmux", ["-L", socket, "display-message", "-p", "-t", paneId, "#{pane_id} #{pane_dead}"], { reject: false });
      if (r.exitCode !== 0) return false;
      const [id, dead] = r.stdout.trim().split(" ");
      return id === paneId && dead !== "1";
    },
  };
}

/**
 * Starts a private tmux server whose global environment is `env` (so panes it
 * opens later, e.g. teammates, get the hermetic HOME), running interactive pi
 * in its first pane. The pane keeps TMUX and TMUX_PANE.
 */
export async function startPiInOwnTmux(socket: string, o: { version: PiVersion; cwd: string; env: Record<string, string>; extensions: string[]; prompt?: string; args?: string[] }): Promise<Pane> {
  const argv = [...piBin(o.version), ...hermeticArgs(o.version, o.extensions), ...(o.args ?? []), ...(o.prompt !== undefined ? [o.prompt] : [])];
  const env = { ...o.env, TERM: "tmux-256color", ...(process.env.TMUX_TMPDIR ? { TMUX_TMPDIR: process.env.TMUX_TMPDIR } : {}) };
  const r = await execa("tmux", [
    "-L", socket, "-f", "/dev/null",
    "new-session", "-d", "-s", "lead", "-x", "200", "-y", "50", "-c", o.cwd, "-P", "-F", "#{pane_id}",
    "--", ...argv.map((a) => a.replace(/;$/, "\\;")),
    ";", "set-option", "-g", "remain-on-exit", "on",
    ";", "set-option", "-g", "exit-empty", "off",
  ], { env, extendEnv: false, reject: false });
  if (r.exitCode !== 0) throw new Error(`tmux new-session: ${r.stderr}`);
  return paneHandle(socket, r.stdout.trim().split("\n")[0]!);
}

export { REPO_ROOT, readScriptLog, type Script, type PiVersion };
