/**
 * The lead's whole tool surface, as the pi extension registers it (name,
 * description, JSON schema of every tool), stays within 3,000 tokens of
 * cl100k_base: every agent pays for it on every turn. Every parameter has a description.
 */
import { afterAll, describe, expect, it } from "vitest";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { getEncoding } from "js-tiktoken";
import { tools, toolsFor } from "../../src/tools/table.js";
import { jsonSchema } from "../../src/tools/define.js";
import { ROOT, cleanupTemp, tempDir } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

const BUDGET = 3_000;

interface Registered { name: string; description: string; parameters: { properties?: Record<string, { description?: string }> } }

/** Loads the built extension in a fresh node process (lead role) with a recording `pi`, and returns what it registered. */
async function registeredTools(): Promise<Registered[]> {
  const ext = pathToFileURL(path.join(ROOT, "dist", "src", "hosts", "pi-extension.js")).href;
  const script = `
    const { default: factory } = await import(${JSON.stringify(ext)});
    const tools = [];
    const pi = new Proxy({ registerTool: (t) => tools.push({ name: t.name, description: t.description, parameters: t.parameters }) }, { get: (o, k) => o[k] ?? (() => undefined) });
    factory(pi);
    process.stdout.write(JSON.stringify(tools));
    process.exit(0);`;
  const env: NodeJS.ProcessEnv = { ...process.env, CLANKER_TEAMS_DIR: tempDir() };
  for (const k of ["CLANKER_TEAM_NAME", "CLANKER_AGENT_NAME", "CLANKER_PLAN_MODE_REQUIRED"]) delete env[k];
  const r = await execa(process.execPath, ["--input-type=module", "-e", script], { env, extendEnv: false });
  return JSON.parse(r.stdout) as Registered[];
}

describe("the lead's tool surface", () => {
  it(`is at most ${BUDGET} tokens (cl100k_base), counted over exactly what the pi extension registers`, async () => {
    const reg = await registeredTools();
    expect(reg.map((t) => t.name)).toEqual(toolsFor("lead").map((t) => t.name));
    const enc = getEncoding("cl100k_base");
    const perTool = reg.map((t) => [t.name, enc.encode(t.name).length + enc.encode(t.description).length + enc.encode(JSON.stringify(t.parameters)).length] as const);
    const total = perTool.reduce((n, [, k]) => n + k, 0);
    console.log(`lead tool surface: ${total} tokens (cl100k_base) over ${reg.length} tools; budget ${BUDGET}\n${perTool.map(([n, k]) => `  ${n}: ${k}`).join("\n")}`);
    expect(total).toBeGreaterThan(500); // a sanity floor: the count really covers the schemas
    expect(total).toBeLessThanOrEqual(BUDGET);
  });

  it("registers every parameter with a description", async () => {
    for (const t of await registeredTools()) {
      for (const [k, p] of Object.entries(t.parameters.properties ?? {})) expect(p.description?.trim(), `${t.name}.${k}`).toBeTruthy();
    }
  });
});

describe("every tool parameter has a description", () => {
  it.each(tools.map((t) => [t.name, t] as const))("%s", (_n, tool) => {
    const s = jsonSchema(tool) as { properties: Record<string, { description?: string }> };
    const missing = Object.entries(s.properties).filter(([, p]) => !p.description?.trim()).map(([k]) => k);
    expect(missing).toEqual([]);
  });
});
