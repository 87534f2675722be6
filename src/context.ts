/** Who is calling, where, and when: passed to every domain function. */
import { randomBytes } from "node:crypto";
import { LEAD_NAME } from "./names.js";
import { openStore } from "./store/open.js";
import type { TeamStore } from "./store/types.js";

export interface HookRunner {
  /** Runs a repo hook with the task as its payload: `hook` (default task_completed; also task_created); see hooks.ts. */
  (input: { team: string; task: unknown; agent: string; cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv; hook?: "task_completed" | "task_created" }): Promise<HookResult>;
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
  /** Where everything is kept (JSON files or PostgreSQL): the only stateful thing the domain touches. */
  store: TeamStore;
  /** The caller's agent name (team-lead for the lead). */
  actor: string;
  /** Working directory of the caller (hooks run here). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Injectable clock (ms since epoch). */
  now(): number;
  /** Completion hook runner: hosts pass runCompletionHook (hooks.ts); without one, completing runs no hook. */
  runHook?: HookRunner;
  /**
   * The host process's session (a random id per agent process). Claims record
   * it; a session whose claim was taken away (lease lost, killed) is fenced
   * off that task. Absent for one-shot callers (the CLI): never fenced.
   */
  session?: string;
  /** Aborted when the caller gives up on this call (an MCP client's cancel): long waits stop and take nothing. */
  signal?: AbortSignal;
}

export interface CtxOptions {
  dataDir?: string;
  /** A PostgreSQL URL (else CLANKER_TEAMS_DB, else the JSON files). */
  db?: string;
  store?: TeamStore;
  actor?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  runHook?: HookRunner;
  session?: string;
}

/** Builds a context: the store from CLANKER_TEAMS_DB / CLANKER_TEAMS_DIR, actor from CLANKER_AGENT_NAME, else team-lead. */
export function makeCtx(opts: CtxOptions = {}): Ctx {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  return {
    store: opts.store ?? openStore({ dataDir: opts.dataDir, db: opts.db, env, now }),
    actor: (opts.actor ?? (env.CLANKER_AGENT_NAME?.trim() || LEAD_NAME)).normalize("NFC"),
    cwd: opts.cwd ?? process.cwd(),
    env,
    now,
    runHook: opts.runHook,
    session: opts.session,
  };
}

/** A new session id for a host process (see Ctx.session). */
export function newSession(): string {
  return randomBytes(9).toString("base64url");
}

/** The same context acting as someone else (the lead acting for a teammate, tests). */
export function asActor(ctx: Ctx, actor: string): Ctx {
  return { ...ctx, actor };
}
