/** The role prompt an MCP server sends as its `instructions` (templates/ rendered as the pi extension does). */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Ctx } from "../../context.js";
import { findMember, readTeam } from "../../domain/teams.js";
import { LEAD_NAME } from "../../names.js";
import type { Identity } from "./identity.js";

/** Finds templates/ whether we run from dist/src/hosts/mcp or src/hosts/mcp. */
export function templatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ["../../../templates", "../../../../templates"]) {
    const d = path.resolve(here, rel);
    if (fs.existsSync(path.join(d, "teammate.md"))) return d;
  }
  return path.resolve(here, "../../../../templates");
}

/** Renders one template: {{name}} placeholders, missing ones empty. */
export function renderTemplate(file: string, vars: Record<string, string>): string {
  let text = "";
  try { text = fs.readFileSync(path.join(templatesDir(), file), "utf8"); } catch { return ""; }
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => vars[k] ?? "");
}

/** The server's instructions: the lead's or the teammate's prompt, then how mail reaches an MCP host. */
export async function instructionsFor(ctx: Ctx, id: Identity, opts: { pushNote?: string } = {}): Promise<string> {
  const team = id.team ?? "";
  const mcp = renderTemplate("mcp.md", { team: team || "<your team>", pushNote: opts.pushNote ?? "" });
  if (id.role === "lead") {
    const lead = renderTemplate("lead.md", { teams: team ? `"${team}"` : "(create one with team_create)" });
    return `${lead}\n${mcp}`.trim();
  }
  let teammates = "none yet";
  let planMode = ctx.env.CLANKER_PLAN_MODE_REQUIRED === "1";
  let model = ctx.env.CLANKER_AGENT_MODEL ?? "default";
  try {
    const cfg = await readTeam(ctx, team);
    const others = cfg.members.filter((m) => m.name !== id.actor && m.role !== "lead").map((m) => m.name);
    if (others.length) teammates = others.join(", ");
    const me = findMember(cfg, id.actor);
    if (me?.planModeRequired) planMode = true;
    if (me?.model) model = me.model;
  } catch { /* the team may not exist yet: tools will say so */ }
  const mate = renderTemplate("teammate.md", { name: id.actor, team, lead: LEAD_NAME, teammates, model, planMode: planMode ? renderTemplate("plan-mode.md", {}) : "" });
  return `${mate}\n${mcp}`.trim();
}
