/**
 * Push through a host's own hooks, for hosts without an extension API:
 * Claude Code (Stop, UserPromptSubmit) and Gemini CLI (AfterAgent, BeforeAgent).
 * At the end of a turn, unread mail keeps the agent going with the mail as
 * its next input (Claude: exit 2 with the mail on stderr; Gemini: a "block"
 * decision whose reason is the mail); when a prompt is submitted, the mail
 * joins it as context. Mail is marked read exactly when it is handed over.
 * Shutdown requests are left to the MCP server (it ends the host).
 */
import type { Ctx } from "../../context.js";
import { markRead, unreadPeek } from "../../domain/messages.js";
import type { Message } from "../../schemas.js";
import { mailText } from "../../tools/mail-tools.js";
import { visibleBlock } from "../../text/safe.js";

export type HookHost = "claude" | "gemini";
export type HookEvent = "stop" | "prompt";
export const HOOK_HOSTS: HookHost[] = ["claude", "gemini"];
export const HOOK_EVENTS: HookEvent[] = ["stop", "prompt"];

/** What the hook process prints and how it exits. */
export interface HookOutcome { stdout: string; stderr: string; code: number }

/** Takes the agent's unread mail (not shutdown requests), marked read by this call only. */
async function takeMail(ctx: Ctx, team: string): Promise<Message[]> {
  const ids = (await unreadPeek(ctx, team, ctx.actor)).filter((m) => m.kind !== "shutdown_request").map((m) => m.id);
  if (!ids.length) return [];
  return ctx.store.markRead(team, ctx.actor, ids, ctx.actor);
}

/** Sets the agent's presence state if it has one (the MCP server keeps the rest of it). */
async function setState(ctx: Ctx, team: string, state: "idle" | "busy"): Promise<void> {
  const p = await ctx.store.getPresence(team, ctx.actor).catch(() => undefined);
  // A stopping agent's presence belongs to its MCP server: "stopped" must not turn back into idle.
  if (p && p.state !== "stopped" && !p.shutdownRequested) await ctx.store.putPresence(team, ctx.actor, { state }).catch(() => undefined);
}

/** Runs one hook event for one host; never fails the host's turn for our own errors. */
export async function runPushHook(ctx: Ctx, team: string, host: HookHost, event: HookEvent): Promise<HookOutcome> {
  const none: HookOutcome = { stdout: "", stderr: "", code: 0 };
  let msgs: Message[];
  try { msgs = await takeMail(ctx, team); } catch (e) { return { ...none, stderr: `clanker-teams hook: ${(e as Error).message}\n` }; }
  await setState(ctx, team, event === "stop" && !msgs.length ? "idle" : "busy");
  if (!msgs.length) return none;
  // Claude shows hook output in its terminal UI: control characters are escaped like every agent-written text.
  const text = visibleBlock(`[clanker-teams] new mail in team "${team}". ${mailText(msgs)}`);
  if (host === "claude") return event === "stop" ? { stdout: "", stderr: text + "\n", code: 2 } : { stdout: text + "\n", stderr: "", code: 0 };
  const out = event === "stop"
    ? { decision: "block", reason: text }
    : { hookSpecificOutput: { hookEventName: "BeforeAgent", additionalContext: text } };
  return { stdout: JSON.stringify(out) + "\n", stderr: "", code: 0 };
}
