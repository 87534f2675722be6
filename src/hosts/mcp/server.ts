/**
 * The MCP server generated from the one tool table: the same names,
 * descriptions and JSON schemas the pi extension registers, filtered by role
 * (and by host: wait_for_mail is offered here, not in pi), validated by the
 * same parseArgs, with domain errors returned as tool errors carrying the
 * same text.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Ctx } from "../../context.js";
import { jsonSchema } from "../../tools/define.js";
import { callTool, toolsFor } from "../../tools/table.js";
import { packageVersion } from "../cli/args.js";
import type { AgentSession } from "./agent.js";

/** What tools/list returns for a role: exactly the table's name, description and schema. */
export function mcpToolList(role: "lead" | "teammate"): Array<{ name: string; description: string; inputSchema: Record<string, unknown> }> {
  return toolsFor(role, "mcp").map((t) => ({ name: t.name, description: t.description, inputSchema: jsonSchema(t) as { type: "object" } }));
}

/** One MCP server (one per connection) for the agent `session` speaks for. */
export function buildServer(session: AgentSession, ctxFor: () => Ctx, instructions: string): Server {
  const role = session.id.role;
  const listed = mcpToolList(role);
  const offered = new Set(listed.map((t) => t.name));
  const server = new Server({ name: "clanker-teams", version: packageVersion() }, { capabilities: { tools: {} }, instructions });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listed as never }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const { name, arguments: args } = req.params;
    if (!offered.has(name)) return fail(`unknown tool "${name}"; tools for ${role === "lead" ? "the lead" : "a teammate"}: ${[...offered].join(", ")}`);
    session.beforeCall(name);
    let details: Record<string, unknown> | undefined;
    try {
      const r = await callTool({ ...ctxFor(), signal: extra.signal }, name, args ?? {});
      details = r.details;
      return { content: [{ type: "text", text: r.text }] };
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    } finally {
      await session.afterCall(name, args, details).catch(() => undefined);
    }
  });
  server.oninitialized = () => void session.noteClient(server.getClientVersion()).catch(() => undefined);
  return server;
}

function fail(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}
