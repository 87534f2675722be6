/**
 * opencode (`opencode`, npm opencode-ai). MCP server in a private config file
 * named by OPENCODE_CONFIG (merged with the user's global and project
 * config); `-m provider/model`; the first prompt with `--prompt` (the TUI
 * stays open). No hook can inject mail: it long-polls with wait_for_mail.
 */
import { mergeJson, writePrivate } from "./util.js";
import { SERVER, TOOL_TIMEOUT_S, type AgentKind, type McpLaunch } from "./types.js";

const server = (m: McpLaunch) => ({ type: "local", command: [m.command, ...m.args], ...(Object.keys(m.env).length ? { environment: m.env } : {}), enabled: true, timeout: TOOL_TIMEOUT_S * 1000 });

export const opencode: AgentKind = {
  name: "opencode", bin: "opencode", pkg: "opencode-ai",
  launch(i) {
    const file = writePrivate(i.dir, "opencode.json", JSON.stringify({ $schema: "https://opencode.ai/config.json", mcp: { [SERVER]: server(i.mcp) } }, null, 2));
    const argv = [...i.cmd];
    if (i.model) argv.push("-m", i.model);
    return { argv: [...argv, "--prompt", i.prompt], env: { OPENCODE_CONFIG: file } };
  },
  registration(m) {
    const json = JSON.stringify({ mcp: { [SERVER]: server(m) } });
    return {
      // opencode has no non-interactive `mcp add`: the line is the JSON to put in opencode.json.
      line: `opencode.json: ${json}`,
      file: "opencode.json",
      merge: (existing) => mergeJson(existing, "opencode.json", ["mcp", SERVER], server(m)),
    };
  },
};
