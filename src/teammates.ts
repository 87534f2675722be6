/** Teammate lifecycle (spawn, check, stop). Filled in by the terminals work. */
import type { Ctx } from "./context.js";
import { deleteTeam } from "./teams.js";

/** Stops the team's running teammates, then deletes the team's data. Returns who was stopped. */
export async function stopTeamAndDelete(ctx: Ctx, team: string): Promise<string[]> {
  await deleteTeam(ctx, team);
  return [];
}
