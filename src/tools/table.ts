/** The one tool table: every front end (pi extension, CLI, docs) is generated from it. */
import type { Ctx } from "../context.js";
import { TeamsError } from "../errors.js";
import { coreTools } from "./core-tools.js";
import { teammateTools } from "./teammate-tools.js";
import { coordinationTools } from "./coordination-tools.js";
import { mailTools } from "./mail-tools.js";
import { autonomyTools } from "./autonomy-tools.js";
import { parseArgs, type Host, type Role, type ToolDef, type ToolResult } from "./define.js";

export const tools: ToolDef[] = [...coreTools, ...teammateTools, ...coordinationTools, ...mailTools, ...autonomyTools] as unknown as ToolDef[];

/** Finds a tool by name, or fails listing the names. */
export function getTool(name: string): ToolDef {
  const t = tools.find((x) => x.name === name);
  if (!t) throw new TeamsError("NOT_FOUND", `unknown tool "${name}"; tools: ${tools.map((x) => x.name).join(", ")}`);
  return t;
}

/** Tools a host offers to a role inside the agent (default host: the pi extension). */
export function toolsFor(role: Role, host: Host = "pi"): ToolDef[] {
  return tools.filter((t) => t.roles.includes(role) && (!t.hosts || t.hosts.includes(host)));
}

/** Validates and runs one tool call. */
export async function callTool(ctx: Ctx, name: string, raw: unknown): Promise<ToolResult> {
  const tool = getTool(name);
  const args = parseArgs(tool, raw);
  return tool.run(ctx, args);
}
