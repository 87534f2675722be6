/**
 * Codex (`codex`, npm @openai/codex). MCP and timeouts as `-c key=value`
 * overrides for this run only (the user's ~/.codex/config.toml is read,
 * never written); our tools approved without a prompt; `-m`,
 * `model_reasoning_effort`. Codex has no hook that can inject mail: it
 * long-polls with wait_for_mail.
 */
import { shJoin } from "../terminals/quote.js";
import { stripProvider, tomlArray, tomlString, tomlTable } from "./util.js";
import { SERVER, TOOL_TIMEOUT_S, type AgentKind, type McpLaunch } from "./types.js";

const EFFORT: Record<string, string> = { off: "minimal", minimal: "minimal", low: "low", medium: "medium", high: "high" };

/** The -c overrides that configure our server. */
export function codexMcpOverrides(m: McpLaunch): string[] {
  const k = `mcp_servers.${SERVER}`;
  return [
    `${k}.command=${tomlString(m.command)}`,
    `${k}.args=${tomlArray(m.args)}`,
    `${k}.env=${tomlTable(m.env)}`,
    `${k}.default_tools_approval_mode="approve"`,
    `${k}.startup_timeout_sec=30`,
    // Required, and ready once its tool list is in: the first model call has our tools (else a slow start loses them).
    `${k}.required=true`,
    `${k}.startup_readiness="catalog"`,
    `${k}.tool_timeout_sec=${TOOL_TIMEOUT_S}`,
  ].flatMap((o) => ["-c", o]);
}

export const codex: AgentKind = {
  name: "codex", bin: "codex", pkg: "@openai/codex",
  launch(i) {
    const argv = [...i.cmd, ...codexMcpOverrides(i.mcp)];
    if (i.model) argv.push("-m", stripProvider(i.model, ["openai", "codex"]));
    if (i.thinking) argv.push("-c", `model_reasoning_effort=${tomlString(EFFORT[i.thinking]!)}`);
    return { argv: [...argv, "--", i.prompt], env: {} };
  },
  registration(m) {
    const table = [
      `[mcp_servers.${SERVER}]`, `command = ${tomlString(m.command)}`, `args = ${tomlArray(m.args)}`,
      ...(Object.keys(m.env).length ? [`env = ${tomlTable(m.env)}`] : []), `tool_timeout_sec = ${TOOL_TIMEOUT_S}`, "",
    ].join("\n");
    return {
      line: shJoin(["codex", "mcp", "add", SERVER, ...Object.entries(m.env).flatMap(([k, v]) => ["--env", `${k}=${v}`]), "--", m.command, ...m.args]),
      file: ".codex/config.toml",
      merge(existing) {
        // Our table is ours: replace it whole, keep everything else as written.
        const text = existing ?? "";
        const head = `[mcp_servers.${SERVER}]`;
        const start = text.split("\n").findIndex((l) => l.trim() === head);
        if (start < 0) return `${text}${text && !text.endsWith("\n") ? "\n" : ""}${text ? "\n" : ""}${table}`;
        const lines = text.split("\n");
        let end = start + 1;
        while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
        return [...lines.slice(0, start), ...table.trimEnd().split("\n"), ...(end < lines.length ? ["", ...lines.slice(end)] : [""])].join("\n");
      },
    };
  },
};
