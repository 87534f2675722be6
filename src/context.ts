/** Who is calling, where, and when: passed to every domain function. */
import { Paths, dataDir, LEAD_NAME } from "./store/paths.js";

export interface HookRunner {
  /** Runs the task_completed hook; see hooks.ts. */
  (input: { team: string; task: unknown; agent: string; cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv }): Promise<HookResult>;
}

export interface HookResult {
  ran: boolean;
  /** "ok" | "veto" (exit 2) | "failed" (other non-zero) | "timeout" | "not_executable" | "missing" | "error" */
  outcome: "ok" | "veto" | "failed" | "timeout" | "not_executable" | "missing" | "error";
  exitCode?: number;
  outputTail?: string;
  durationMs?: number;
  path?: string;
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
