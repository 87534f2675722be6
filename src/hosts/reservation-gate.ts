/**
 * The pi extension's reservation check for `edit` and `write`: a path another
 * member holds exclusively is refused (the reason says who holds it and how
 * to ask); with the team's auto-reserve on, a first edit reserves the file
 * for the editor. `bash` cannot be checked: its commands cannot be parsed
 * reliably into the files they change.
 */
import os from "node:os";
import type { Ctx } from "../context.js";
import { isTeamsError } from "../errors.js";
import { autoReserveOn, blockingReservation, holdsPath, reserveFiles, type Reservation } from "../domain/reservations.js";
import { readTeam } from "../domain/teams.js";
import { repoPath, whereOf } from "../repo.js";

/** A path as pi's tools read it: "@" prefix dropped, "~" expanded. */
function expand(p: string): string {
  const s = p.startsWith("@") ? p.slice(1) : p;
  if (s === "~") return os.homedir();
  return s.startsWith("~/") ? os.homedir() + s.slice(1) : s;
}

function refusal(tool: string, rel: string, r: Reservation): string {
  return `File reservation: ${tool} of ${rel} is refused: ${r.holder} holds ${r.path} exclusively${r.reason ? ` ("${r.reason}")` : ""} since ${r.since}${r.expiresAt ? ` (until ${r.expiresAt})` : ""}. Ask ${r.holder} with send_message to release it (file_release), or work on other files. Do not change it with bash either.`;
}

/** Why `agent` may not run `tool` on `file` (relative to `cwd`) in `team`, or undefined. Auto-reserves when the team asks for it. */
export async function reservationGate(ctx: Ctx, team: string, agent: string, tool: string, file: string, cwd: string): Promise<string | undefined> {
  const rel = repoPath(expand(file), cwd);
  if (!rel) return undefined; // outside the repository: nothing to reserve
  try {
    const held = await blockingReservation(ctx, team, agent, rel);
    if (held) return refusal(tool, rel, held);
    const cfg = await readTeam(ctx, team);
    if (!autoReserveOn(cfg) || (await holdsPath(ctx, team, agent, rel))) return undefined;
    const root = whereOf(cwd).root;
    try {
      await reserveFiles(ctx, team, { paths: [rel], reason: "auto-reserved on first edit" }, { cwd: root, root }, { auto: true });
    } catch (e) {
      // Someone reserved it meanwhile: refuse if exclusively; shared holders only keep the file unreserved.
      if (!isTeamsError(e) || e.code !== "CONFLICT") throw e;
      const now = await blockingReservation(ctx, team, agent, rel);
      if (now) return refusal(tool, rel, now);
    }
    return undefined;
  } catch (e) {
    if (isTeamsError(e) && e.code === "NOT_FOUND") return undefined; // the team or membership is gone
    return `File reservation: ${tool} of ${rel} is refused: the reservations of team "${team}" cannot be read (${(e as Error).message}).`;
  }
}
