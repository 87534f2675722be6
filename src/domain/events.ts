/** The team's event log: every state change, numbered without gaps (the store keeps it). */
import type { Ctx } from "../context.js";
import type { TeamEvent } from "../schemas.js";
import type { EventInput } from "../store/types.js";

/** An event by the caller. */
export function ev(ctx: Ctx, kind: string, data: Record<string, unknown>): EventInput {
  return { actor: ctx.actor, kind, data };
}

/** Logs one event by the caller (for changes that have no write of their own: hooks, spawns). */
export async function appendEvent(ctx: Ctx, team: string, kind: string, data: Record<string, unknown>): Promise<void> {
  await ctx.store.appendEvents(team, [ev(ctx, kind, data)]);
}

/** Events with seq > afterSeq (all by default). */
export async function readEvents(ctx: Ctx, team: string, afterSeq = 0, limit?: number): Promise<TeamEvent[]> {
  return ctx.store.readEvents(team, afterSeq, limit);
}
