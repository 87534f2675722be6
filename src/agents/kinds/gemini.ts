/**
 * Gemini CLI (`gemini`, npm @google/gemini-cli). MCP server and push hooks
 * (AfterAgent, BeforeAgent) in a private settings file named by
 * GEMINI_CLI_SYSTEM_DEFAULTS_PATH, the lowest settings layer: the user's own
 * settings still apply, and mcpServers and hooks merge with theirs. Our
 * server is trusted (its tools run without a prompt); `-m`; the first
 * prompt with `-i` (it stays interactive).
 */
import { shJoin } from "../terminals/quote.js";
import { mergeJson, stripProvider, writePrivate } from "./util.js";
import { SERVER, TOOL_TIMEOUT_S, type AgentKind, type McpLaunch } from "./types.js";

const server = (m: McpLaunch, trust: boolean) => ({ command: m.command, args: m.args, env: m.env, timeout: TOOL_TIMEOUT_S * 1000, ...(trust ? { trust: true } : {}) });

export const gemini: AgentKind = {
  name: "gemini", bin: "gemini", pkg: "@google/gemini-cli",
  launch(i) {
    const hook = (event: "stop" | "prompt", name: string) => [{ hooks: [{ type: "command", name, command: shJoin(i.hook(event)), timeout: 30_000 }] }];
    const file = writePrivate(i.dir, "settings.json", JSON.stringify({
      mcpServers: { [SERVER]: server(i.mcp, true) },
      hooks: { AfterAgent: hook("stop", "clanker-teams-mail"), BeforeAgent: hook("prompt", "clanker-teams-mail-context") },
    }, null, 2));
    const argv = [...i.cmd];
    if (i.model) argv.push("-m", stripProvider(i.model, ["google", "gemini"]));
    return { argv: [...argv, "-i", i.prompt], env: { GEMINI_CLI_SYSTEM_DEFAULTS_PATH: file } };
  },
  registration(m) {
    return {
      line: shJoin(["gemini", "mcp", "add", ...Object.entries(m.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), SERVER, m.command, ...m.args]),
      file: ".gemini/settings.json",
      merge: (existing) => mergeJson(existing, ".gemini/settings.json", ["mcpServers", SERVER], server(m, false)),
    };
  },
};
