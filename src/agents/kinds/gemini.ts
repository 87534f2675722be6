/**
 * Gemini CLI (`gemini`, npm @google/gemini-cli). Its system settings files
 * must be root-owned, so our MCP server and push hooks (AfterAgent,
 * BeforeAgent) go into a private GEMINI_CLI_HOME instead: its
 * .gemini/settings.json is the user's own settings with ours merged in, and
 * every other entry of the user's ~/.gemini (auth, trusted folders) is linked,
 * never written. Our server is trusted (its tools run without a prompt);
 * `-m`; the first prompt with `-i` (it stays interactive).
 */
import fs from "node:fs";
import path from "node:path";
import { shJoin } from "../terminals/quote.js";
import { mergeJson, stripProvider, writePrivate } from "./util.js";
import { SERVER, TOOL_TIMEOUT_S, type AgentKind, type McpLaunch } from "./types.js";

const server = (m: McpLaunch, trust: boolean) => ({ command: m.command, args: m.args, env: m.env, timeout: TOOL_TIMEOUT_S * 1000, ...(trust ? { trust: true } : {}) });

export const gemini: AgentKind = {
  name: "gemini", bin: "gemini", pkg: "@google/gemini-cli",
  launch(i) {
    const hook = (event: "stop" | "prompt", name: string) => [{ hooks: [{ type: "command", name, command: shJoin(i.hook(event)), timeout: 30_000 }] }];
    const mine = path.join(i.userHome, ".gemini");
    const home = path.join(i.dir, "home");
    const gem = path.join(home, ".gemini");
    fs.mkdirSync(gem, { recursive: true, mode: 0o700 });
    let user: Record<string, any> = {};
    try { user = JSON.parse(fs.readFileSync(path.join(mine, "settings.json"), "utf8")) as Record<string, any>; } catch { /* none, or unreadable: start empty */ }
    try { for (const e of fs.readdirSync(mine)) if (e !== "settings.json") fs.symlinkSync(path.join(mine, e), path.join(gem, e)); } catch { /* no ~/.gemini */ }
    const hooks = user.hooks ?? {};
    const settings = {
      ...user,
      mcpServers: { ...(user.mcpServers ?? {}), [SERVER]: server(i.mcp, true) },
      hooks: { ...hooks, AfterAgent: [...(hooks.AfterAgent ?? []), ...hook("stop", "clanker-teams-mail")], BeforeAgent: [...(hooks.BeforeAgent ?? []), ...hook("prompt", "clanker-teams-mail-context")] },
    };
    writePrivate(gem, "settings.json", JSON.stringify(settings, null, 2));
    const argv = [...i.cmd];
    if (i.model) argv.push("-m", stripProvider(i.model, ["google", "gemini"]));
    return { argv: [...argv, "-i", i.prompt], env: { GEMINI_CLI_HOME: home } };
  },
  registration(m) {
    return {
      line: shJoin(["gemini", "mcp", "add", ...Object.entries(m.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), SERVER, m.command, ...m.args]),
      file: ".gemini/settings.json",
      merge: (existing) => mergeJson(existing, ".gemini/settings.json", ["mcpServers", SERVER], server(m, false)),
    };
  },
};
