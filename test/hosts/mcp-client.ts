/** Test helpers: the MCP SDK's real Client driving `clanker-teams mcp` (the built CLI) over stdio. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CLI } from "../helpers/fixtures.js";

export interface Mcp {
  client: Client;
  transport: StdioClientTransport;
  /** The server process's pid. */
  pid: number;
  stderr(): string;
  /** Calls a tool; returns its text and whether it was an error. */
  call(name: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<{ text: string; isError: boolean }>;
  close(): Promise<void>;
}

/** Starts `clanker-teams mcp …args` on data dir `dir` and connects a Client to it. */
export async function connectMcp(dir: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string): Promise<Mcp> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^CLANKER_(AGENT_NAME|TEAM_NAME)$/.test(k)) base[k] = v;
  const transport = new StdioClientTransport({
    command: process.execPath, args: [CLI, "mcp", ...args],
    env: { ...base, CLANKER_TEAMS_DIR: dir, NO_COLOR: "1", ...env }, stderr: "pipe", ...(cwd ? { cwd } : {}),
  });
  let err = "";
  transport.stderr?.on("data", (b: Buffer) => { err += b.toString("utf8"); });
  const client = new Client({ name: "vitest-client", version: "1.0.0" });
  await client.connect(transport);
  return {
    client, transport, pid: transport.pid!,
    stderr: () => err,
    async call(name, a = {}, timeoutMs = 60_000) {
      const r = await client.callTool({ name, arguments: a }, undefined, { timeout: timeoutMs });
      const text = (r.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? "").join("");
      return { text, isError: r.isError === true };
    },
    close: () => client.close(),
  };
}
