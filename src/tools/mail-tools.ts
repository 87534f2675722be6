/**
 * wait_for_mail: long-poll delivery for hosts that cannot push mail into the
 * conversation (MCP clients). It blocks until the caller's inbox has unread
 * mail (woken by the store's change notification, not a poll loop in the
 * model), takes it (marked read, each message to exactly one call) and
 * returns it. Offered on every host (the same surface everywhere: the MCP
 * one costs no more than pi's); inside pi the extension also pushes mail, and
 * each message still reaches the agent exactly once.
 */
import { z } from "zod";
import type { Ctx } from "../context.js";
import { readTeam, requireMember } from "../domain/teams.js";
import type { Message } from "../schemas.js";
import { defineTool } from "./define.js";
import { fmtMessage } from "./core-tools.js";

/** Longest wait one call may ask for (hosts' tool timeouts are set above it where we write their config). */
export const MAX_WAIT_S = 600;
export const DEFAULT_WAIT_S = 50;

/**
 * Takes the caller's unread mail, waiting up to `timeoutMs` for some to
 * arrive. Returns [] on timeout, or as soon as `ctx.signal` aborts (taking nothing then).
 */
export async function takeMail(ctx: Ctx, team: string, timeoutMs: number): Promise<Message[]> {
  const me = requireMember(await readTeam(ctx, team), "your identity (CLANKER_AGENT_NAME)", ctx.actor);
  const signal = ctx.signal;
  const end = Date.now() + timeoutMs;
  let wake: (() => void) | undefined;
  let changed = false;
  // Watch before the first look, so mail landing between the look and the wait still wakes us.
  const unwatch = ctx.store.watch(team, { inbox: me }, () => { changed = true; wake?.(); });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      if (signal?.aborted) return [];
      changed = false;
      const got = await ctx.store.markRead(team, me, "all", me);
      if (got.length) return got;
      const left = end - Date.now();
      if (left <= 0) return [];
      if (changed) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => { clearTimeout(t); resolve(); };
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    unwatch();
  }
}

/** The text wait_for_mail returns for a batch of messages. */
export function mailText(msgs: Message[]): string {
  return [`${msgs.length} message(s) (marked read):`, ...msgs.map(fmtMessage)].join("\n\n");
}

export const mailTools = [
  defineTool({
    name: "wait_for_mail", label: "Wait for mail", roles: ["lead", "teammate"],
    description: "Wait up to timeout_s for mail; returns it, marked read. Call it when idle.",
    params: z.object({
      team_name: z.string().describe("Team name"),
      timeout_s: z.number().int().min(0).max(MAX_WAIT_S).optional().describe(`Default ${DEFAULT_WAIT_S}; 0 = no wait`),
    }),
    example: { team_name: "checkout-rewrite", timeout_s: 0 },
    async run(ctx, a) {
      const s = a.timeout_s ?? DEFAULT_WAIT_S;
      const msgs = await takeMail(ctx, a.team_name, s * 1000);
      const shutdown = msgs.some((m) => m.kind === "shutdown_request");
      return { text: msgs.length ? mailText(msgs) : `No mail within ${s} s.`, details: { messages: msgs, shutdown } };
    },
  }),
];
