/** Who is calling, where, and when: passed to every domain function. */
import { Paths, dataDir, LEAD_NAME } from "./store/paths.js";

export interface HookRunner {
  /** Runs the task_completed hook; see hooks.ts. */
  (input: { team: string; task: unknown; agent: string; cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv }): Promise<HookResult>;
}

export interface HookResult {
  ran: boolean;
  /**
   * "ok" (exit 0) | "veto" (exit 2) | "failed" (other exit, or killed by a signal) | "timeout" |
   * "not_executable" | "broken" (dangling symlink, directory, unreadable: did not run) | "missing" | "error" (could not start)
   */
  outcome: "ok" | "veto" | "failed" | "timeout" | "not_executable" | "broken" | "missing" | "error";
  exitCode?: number;
  /** The signal that killed the hook, when one did (not ours). */
  signal?: string;
  /** Last 4000 characters of stdout+stderr, then notes (timeout, signal, leftovers killed). */
  outputTail?: string;
  durationMs?: number;
  path?: string;
  /** Processes the hook left running (or had running at its timeout), killed: "pid 123 sleep 30". */
  leftovers?: string[];
}

export interface Ctx {
  paths: Paths;
  /** The caller's agent name (team-lead for the lead). */
  actor: string;
  /** Working directory of the caller (hooks run here). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Injectable clock (ms since epoch). */
  now(): number;
  /** Completion hook runner: hosts pass runCompletionHook (hooks.ts); without one, completing runs no hook. */
  runHook?: HookRunner;
}

export interface CtxOptions {
  dataDir?: string;
  actor?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  runHook?: HookRunner;
}

/** Builds a context: data dir from CLANKER_TEAMS_DIR, actor from CLANKER_AGENT_NAME, else team-lead. */
export function makeCtx(opts: CtxOptions = {}): Ctx {
  const env = opts.env ?? process.env;
  return {
    paths: new Paths(opts.dataDir ?? dataDir(env)),
    actor: opts.actor ?? (env.CLANKER_AGENT_NAME?.trim() || LEAD_NAME),
    cwd: opts.cwd ?? process.cwd(),
    env,
    now: opts.now ?? Date.now,
    runHook: opts.runHook,
  };
}

/** The same context acting as someone else (the lead acting for a teammate, tests). */
export function asActor(ctx: Ctx, actor: string): Ctx {
  return { ...ctx, actor };
}
