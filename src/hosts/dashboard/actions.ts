/**
 * What a person may do from the page: a few tools of the one tool table, run
 * through `callTool` as the dashboard's identity (team-lead, or --as NAME), so
 * they get the agents' own validation and permission checks and log their
 * events with that person as actor.
 */
import type { Ctx } from "../../context.js";
import { TeamsError, invalid, isTeamsError } from "../../errors.js";
import { callTool } from "../../tools/table.js";

/** The tools the page offers, and nothing else. */
export const ACTIONS: ReadonlySet<string> = new Set([
  "send_message",
  "broadcast_message",
  "task_evaluate_plan",
  "task_update",
  "task_release",
  "process_shutdown_approved",
]);

export interface ActionResult { status: number; body: Record<string, unknown> }

const STATUS: Record<string, number> = { INVALID_INPUT: 400, NOT_FOUND: 404, FORBIDDEN: 403, CONFLICT: 409, BLOCKED: 409, LOCKED: 503, CORRUPT: 500, IO: 503 };

/** Runs one action from a POST body {team, tool, args}; never throws. */
export async function runAction(ctx: Ctx, body: unknown): Promise<ActionResult> {
  try {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("body", 'must be a JSON object {"team": …, "tool": …, "args": {…}}');
    const { team, tool, args, ...rest } = body as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw invalid(extra[0]!, "unknown key; the body has team, tool and args");
    if (typeof team !== "string" || !team) throw invalid("team", "must be the team's name");
    if (typeof tool !== "string" || !ACTIONS.has(tool)) throw new TeamsError("FORBIDDEN", `tool: the dashboard runs only ${[...ACTIONS].join(", ")}; use clanker-teams call for others`, { field: "tool" });
    if (args !== undefined && (!args || typeof args !== "object" || Array.isArray(args))) throw invalid("args", "must be a JSON object of the tool's arguments");
    const r = await callTool(ctx, tool, { ...(args as Record<string, unknown> | undefined), team_name: team });
    return { status: 200, body: { ok: true, text: r.text, details: r.details } };
  } catch (e) {
    if (isTeamsError(e)) return { status: STATUS[e.code] ?? 500, body: { ok: false, code: e.code, error: e.message, field: e.details?.field ?? null } };
    return { status: 500, body: { ok: false, code: "INTERNAL", error: (e as Error).message } };
  }
}
