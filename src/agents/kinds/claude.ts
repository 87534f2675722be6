/**
 * Claude Code (`claude`, npm @anthropic-ai/claude-code). MCP: `--mcp-config
 * <file>`; push: Stop and UserPromptSubmit hooks from `--settings <file>`
 * (both files in the teammate's private dir); our tools allowed without a
 * prompt (`--allowedTools mcp__clanker-teams`); `--model`, `--effort`.
 */
import { shJoin } from "../terminals/quote.js";
import { mergeJson, stripProvider, writePrivate } from "./util.js";
import { SERVER, type AgentKind, type McpLaunch } from "./types.js";

const EFFORT: Record<string, string | undefined> = { minimal: "low", low: "low", medium: "medium", high: "high" };

// alwaysLoad: Claude Code connects the server before the first model call, so the first turn has our tools.
const server = (m: McpLaunch) => ({ type: "stdio", command: m.command, args: m.args, env: m.env, alwaysLoad: true });

export const claude: AgentKind = {
  name: "claude", bin: "claude", pkg: "@anthropic-ai/claude-code",
  launch(i) {
    const mcpFile = writePrivate(i.dir, "mcp.json", JSON.stringify({ mcpServers: { [SERVER]: server(i.mcp) } }, null, 2));
    // Claude runs hook commands through a shell: each argv is quoted by the one quoting module.
    const cmd = (event: "stop" | "prompt") => [{ hooks: [{ type: "command", command: shJoin(i.hook(event)), timeout: 30 }] }];
    const settings = writePrivate(i.dir, "settings.json", JSON.stringify({ hooks: { Stop: cmd("stop"), UserPromptSubmit: cmd("prompt") } }, null, 2));
    const argv = [...i.cmd, "--mcp-config", mcpFile, "--settings", settings, "--allowedTools", `mcp__${SERVER}`];
    if (i.model) argv.push("--model", stripProvider(i.model, ["anthropic", "claude"]));
    const effort = i.thinking ? EFFORT[i.thinking] : undefined;
    if (effort) argv.push("--effort", effort);
    // "--": the variadic options above must not swallow the prompt.
    // The interactive TUI sends its first prompt before non-blocking MCP connections finish: make them block.
    return { argv: [...argv, "--", i.prompt], env: { MCP_CONNECTION_NONBLOCKING: "0" } };
  },
  registration(m) {
    return {
      line: shJoin(["claude", "mcp", "add", SERVER, ...Object.entries(m.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), "--", m.command, ...m.args]),
      file: ".mcp.json",
      merge: (existing) => mergeJson(existing, ".mcp.json", ["mcpServers", SERVER], server(m)),
    };
  },
};
