/** `clanker-teams mcp`: the team tools as an MCP server (stdio, or Streamable HTTP on 127.0.0.1). */
import type { Command } from "../command.js";

export const mcp: Command = {
  name: "mcp",
  synopsis: "mcp [--team T] [--as NAME] [--http PORT] serve the team tools to an MCP agent",
  help: `Usage: clanker-teams mcp [--team T] [--as NAME] [--http PORT] [--stop-host]

Serves the team tools over MCP for one agent: the lead (no --as), or teammate
NAME of team T (also from CLANKER_TEAM_NAME / CLANKER_AGENT_NAME). The tools,
their descriptions and schemas are the pi extension's, per role, plus
wait_for_mail (blocks until mail arrives). The server's instructions carry the
role prompt. While it runs it keeps the agent's presence fresh; the lead's
server also puts dead teammates' tasks back to pending.

  --http PORT   Streamable HTTP on 127.0.0.1:PORT/mcp (0: any free port) instead
                of stdio; every request needs Authorization: Bearer <token>
                (CLANKER_TEAMS_MCP_TOKEN, else a random token printed on stderr)
  --stop-host   when the lead approves this teammate's shutdown, end the host
                process that started this server (set by spawn_teammate)

Register it with an agent: clanker-teams init --agent claude|codex|gemini|opencode`,
  values: ["team", "http"], bools: ["stop-host"], maxArgs: 0, argsHint: "no arguments",
  async run({ flags }, ctx) {
    let port: number | undefined;
    if (typeof flags.http === "string") {
      if (!/^\d+$/.test(flags.http) || Number(flags.http) > 65535) throw new Error(`--http: must be a port number 0-65535 (0: any free port), got ${JSON.stringify(flags.http)}`);
      port = Number(flags.http);
    }
    const { runMcp } = await import("../../mcp/index.js");
    return runMcp(ctx(), {
      team: typeof flags.team === "string" ? flags.team : undefined,
      as: typeof flags.as === "string" ? flags.as : undefined,
      http: port, stopHost: flags["stop-host"] === true,
    });
  },
};
