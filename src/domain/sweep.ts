/**
 * The coordination sweep, run with the lease sweep (presence.ts
 * recoverAbandoned): releases lapsed reservations and those of dead holders
 * (the lead is told), and closes votes past their deadline.
 */
import type { Ctx } from "../context.js";
import { recoverReservations } from "./reservations.js";
import { closeDueVotes } from "./votes.js";

/** One pass; failures of one part do not stop the other. */
export async function sweepCoordination(ctx: Ctx, team: string): Promise<void> {
  await recoverReservations(ctx, team).catch(() => undefined);
  await closeDueVotes(ctx, team).catch(() => undefined);
}
