// The MCP tool surface (what tools/list sends, counted like test/tools/token-budget.test.ts: name +
// description + JSON schema, cl100k_base) against what the pi extension registers, for each role:
// every shared tool costs exactly the same on both; MCP adds only wait_for_mail (pi pushes mail
// instead), whose cost is the whole difference; and the lead's MCP surface stays within the budget.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { getEncoding } from "js-tiktoken";
import { afterAll, describe, expect, it } from "vitest";
import { makeCtx } from "../../dist/src/context.js";
import { addMember, createTeam } from "../../dist/src/domain/teams.js";
import { ROOT, cleanupTemp, tempDir } from "../helpers/fixtures.js";
import { connectMcp } from "./mcp-client.js";

afterAll(cleanupTemp);
const BUDGET = 3_000;
const enc = getEncoding("cl100k_base");

interface T { name: string; description?: string; schema: unknown }
const cost = (t: T) => enc.encode(t.name).length + enc.encode(t.description ?? "").length + enc.encode(JSON.stringify(t.schema)).length;

async function piSurface(env: Record<string, string>): Promise<T[]> {
  const ext = pathToFileURL(path.join(ROOT, "dist", "src", "hosts", "pi-extension.js")).href;
  const script = `
    const { default: factory } = await import(${JSON.stringify(ext)});
    const tools = [];
    const pi = new Proxy({ registerTool: (t) => tools.push({ name: t.name, description: t.description, schema: t.parameters }) }, { get: (o, k) => o[k] ?? (() => undefined) });
    factory(pi);
    process.stdout.write(JSON.stringify(tools));
    process.exit(0);`;
  const r = await execa(process.execPath, ["--input-type=module", "-e", script], { env: { PATH: process.env.PATH!, ...env }, extendEnv: false });
  return JSON.parse(r.stdout) as T[];
}

describe("MCP tool surface vs pi's", () => {
  for (const role of ["lead", "teammate"] as const) {
    it(`${role}: the MCP surface is pi's: the same tools at the same cost (wait_for_mail included on both)`, async () => {
      const dir = tempDir("mcp-tokens-");
      const lead = makeCtx({ dataDir: dir, env: { ...process.env, CLANKER_TEAMS_DIR: dir } });
      await createTeam(lead, { team_name: "tok" });
      await addMember(lead, "tok", { name: "bob", role: "teammate" });
      const ident = role === "teammate" ? { CLANKER_TEAM_NAME: "tok", CLANKER_AGENT_NAME: "bob" } : {};
      const pi = await piSurface({ CLANKER_TEAMS_DIR: dir, ...ident });
      const m = await connectMcp(dir, [], ident);
      const mcp = (await m.client.listTools()).tools.map((t) => ({ name: t.name, description: t.description, schema: t.inputSchema }));
      await m.close();
      const piTotal = pi.reduce((n, t) => n + cost(t), 0);
      const mcpTotal = mcp.reduce((n, t) => n + cost(t), 0);
      for (const t of pi) {
        const same = mcp.find((x) => x.name === t.name);
        expect(same, t.name).toBeDefined();
        expect(cost(same!), t.name).toBe(cost(t));
        expect(same!.schema, t.name).toEqual(t.schema);
      }
      const extra = mcp.filter((t) => !pi.some((p) => p.name === t.name));
      expect(extra.map((t) => t.name)).toEqual([]);
      const wait = cost(pi.find((t) => t.name === "wait_for_mail")!);
      console.log(`${role} tool surface (cl100k_base): pi ${piTotal} tokens over ${pi.length} tools; MCP ${mcpTotal} over ${mcp.length} (wait_for_mail ${wait})`);
      expect(mcpTotal).toBeLessThanOrEqual(piTotal);
      expect(wait).toBeLessThanOrEqual(75);
      if (role === "lead") expect(mcpTotal).toBeLessThanOrEqual(BUDGET);
    });
  }
});
