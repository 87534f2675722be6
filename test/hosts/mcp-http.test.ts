// REAL process: `clanker-teams mcp --http 0` serves Streamable HTTP on 127.0.0.1 only, refuses requests
// without the bearer token (or with a wrong one, or a foreign Host header), and serves the SDK's real
// HTTP client with the token: the same tools, and calls that work.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { toolsFor } from "../../dist/src/tools/table.js";
import { makeCtx } from "../../dist/src/context.js";
import { addMember, createTeam } from "../../dist/src/domain/teams.js";
import { CLI, cleanupTemp, tempDir } from "../helpers/fixtures.js";

const procs: ChildProcess[] = [];
afterAll(() => { for (const p of procs) p.kill("SIGKILL"); cleanupTemp(); });

const TOKEN = "test-token-0123456789abcdef";

async function start(dir: string, args: string[], env: Record<string, string> = {}): Promise<{ url: string; line: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, "mcp", "--http", "0", ...args], { env: { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(child);
  let err = "";
  const line = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (b: Buffer) => { err += b.toString(); const m = /^clanker-teams mcp: .*$/m.exec(err); if (m) resolve(m[0]); });
    child.on("exit", (c) => reject(new Error(`exited ${c}: ${err}`)));
  });
  return { url: /on (http:\/\/\S+)/.exec(line)![1]!, line, child };
}

describe("mcp --http", () => {
  it("binds 127.0.0.1, requires the bearer token, checks Host, and serves the SDK client", async () => {
    const dir = tempDir("mcp-http-");
    const lead = makeCtx({ dataDir: dir, env: { ...process.env, CLANKER_TEAMS_DIR: dir } });
    await createTeam(lead, { team_name: "web" });
    await addMember(lead, "web", { name: "bob", role: "teammate" });
    const { url, line } = await start(dir, ["--team", "web", "--as", "bob"], { CLANKER_TEAMS_MCP_TOKEN: TOKEN });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(line).toContain(`bob in web on ${url} (send Authorization: Bearer ${TOKEN})`);
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "curl", version: "0" } } };
    const post = (headers: Record<string, string>) => fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(init) });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: "Bearer wrong-token-0123456789abcdef" })).status).toBe(401);
    const port = new URL(url).port;
    // fetch sends the real Host; node's http lets a test forge one, as a rebinding page's browser would send it.
    const forged = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const rq = http.request({ host: "127.0.0.1", port, path: "/mcp", method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => { res.resume(); resolve(res.statusCode!); });
      rq.on("error", reject);
      rq.end(JSON.stringify(init));
    });
    expect(await forged({ host: `evil.example:${port}` })).toBe(403);
    expect(await forged({ host: `127.0.0.1:${port}`, origin: "http://evil.example" })).toBe(403);

    const client = new Client({ name: "http-client", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(toolsFor("teammate", "mcp").map((t) => t.name));
    expect(client.getInstructions()).toContain('You are bob, a teammate in team "web"');
    const r = await client.callTool({ name: "task_create", arguments: { team_name: "web", subject: "over http", description: "d" } });
    expect(r.content).toEqual([{ type: "text", text: "Task #1 created." }]);
    await client.close();
  });

  it("a token that is too short is refused with the variable's name", async () => {
    const dir = tempDir("mcp-http-bad-");
    const child = spawn(process.execPath, [CLI, "mcp", "--http", "0"], { env: { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_TEAMS_MCP_TOKEN: "short" }, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(1);
    expect(err).toContain("CLANKER_TEAMS_MCP_TOKEN: must be at least 16 characters");
  });

  it("--http refuses a value that is not a port", async () => {
    const child = spawn(process.execPath, [CLI, "mcp", "--http", "80x"], { env: { ...process.env, CLANKER_TEAMS_DIR: tempDir("mcp-http-port-") }, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    expect(await new Promise((r) => child.on("exit", r))).toBe(1);
    expect(err).toContain('--http: must be a port number 0-65535 (0: any free port), got "80x"');
  });
});
