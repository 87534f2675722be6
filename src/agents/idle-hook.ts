/**
 * The teammate_idle hook: `.clanker/team-hooks/teammate_idle.sh`, run (by the
 * teammate's host) each time a teammate goes idle, in its working directory,
 * with the same contract as task_completed (hooks.ts): JSON payload on $1 and
 * stdin, env, timeout, output tail. Exit 2 sends its output back to the
 * teammate as feedback, so it keeps working; other failures are reported to
 * the lead. `feedbackCount` (payload and CLANKER_IDLE_FEEDBACK_COUNT) says how
 * many times in a row the hook has already sent it back: a hook uses it to
 * stop insisting, and after MAX_IDLE_FEEDBACK the host stops sending.
 */
import type { Ctx, HookResult } from "../context.js";
import { appendEvent } from "../domain/events.js";
import { FINISHED } from "../domain/tasks.js";
import { runRepoHook } from "./hooks.js";

/** Feedback rounds in a row after which the idle hook's veto is no longer sent (the lead is told instead). */
export const MAX_IDLE_FEEDBACK = 10;

/** Runs the hook for `ctx.actor` going idle in `team`; logs hook.ran when a hook exists. */
export async function runIdleHook(ctx: Ctx, team: string, feedbackCount: number): Promise<HookResult> {
  const cfg = await ctx.store.getTeam(team);
  const tasks = (await ctx.store.listTasks(team)).filter((t) => t.owner === ctx.actor && !FINISHED.has(t.status));
  const envTimeout = Number(ctx.env.CLANKER_HOOK_TIMEOUT_MS);
  const timeoutMs = envTimeout > 0 ? envTimeout : cfg?.hookTimeoutMs ?? 5 * 60_000;
  const payload = { team, agent: ctx.actor, tasks, feedbackCount };
  const r = await runRepoHook("teammate_idle", {
    team, payload, agent: ctx.actor, cwd: ctx.cwd, timeoutMs, env: { ...ctx.env, ...ctx.store.childEnv() },
    extraEnv: { CLANKER_IDLE_FEEDBACK_COUNT: String(feedbackCount) },
  });
  if (r.outcome !== "missing") {
    await appendEvent(ctx, team, "hook.ran", { hook: "teammate_idle", agent: ctx.actor, outcome: r.outcome, exitCode: r.exitCode, durationMs: r.durationMs, feedbackCount, leftovers: r.leftovers?.length || undefined }).catch(() => undefined);
  }
  return r;
}

/** The text a vetoing idle hook's output reaches the teammate as. */
export function idleFeedback(r: HookResult): string {
  return `[clanker-teams] The repo's teammate_idle hook (exit 2) sends this back; keep working on it:\n${r.outputTail?.trim() || "(no output)"}`;
}
