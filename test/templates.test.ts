/** Team templates: lookup, validation with the file, line and field, defaults, saving and reading back. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { loadTemplate, parseTemplate, saveTemplate, templatePaths, withDefaults } from "../src/agents/templates.js";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

const GOOD = `description: Backend squad
defaults:
  model: scripted/scripted-1
  thinking: low
budget: { tokens: 2000000 }
members:
  - name: api
    prompt: Claim the API tasks.
    isolation: worktree
    budget: { tokens: 500000, cost_usd: 2.5 }
  - name: tester
    prompt: Write the tests once the API is done.
    plan_mode_required: true
    thinking: high
`;

describe("team templates", () => {
  it("parses a template, fills in defaults, finds it in the repo before the data dir", () => {
    const t = parseTemplate(GOOD, "x.yaml");
    expect(t.members.map((m) => m.name)).toEqual(["api", "tester"]);
    expect(withDefaults(t, t.members[1]!)).toMatchObject({ model: "scripted/scripted-1", thinking: "high", plan_mode_required: true });
    const repo = tempDir();
    const data = tempDir();
    fs.mkdirSync(path.join(data, "templates"), { recursive: true });
    fs.writeFileSync(path.join(data, "templates", "squad.yaml"), GOOD.replace("Backend", "Data-dir"));
    expect(loadTemplate("squad", { cwd: repo, dataDir: data }).template.description).toBe("Data-dir squad");
    fs.mkdirSync(path.join(repo, ".clanker", "teams"), { recursive: true });
    fs.writeFileSync(path.join(repo, ".clanker", "teams", "squad.yaml"), GOOD);
    const found = loadTemplate("squad", { cwd: repo, dataDir: data });
    expect(found.file).toBe(templatePaths("squad", { cwd: repo, dataDir: data })[0]);
    expect(found.template.description).toBe("Backend squad");
  });

  it("a bad template names the file, the line and the field", () => {
    const bad = (text: string) => { try { parseTemplate(text, "t.yaml"); } catch (e) { return (e as Error).message; } return "no error"; };
    expect(bad(GOOD.replace("thinking: high", "thinking: extreme"))).toMatch(/^t\.yaml:14: members\.1\.thinking: .*"off"/);
    expect(bad(GOOD.replace("    isolation: worktree", "    isolaton: worktree"))).toMatch(/^t\.yaml:9: unknown key "isolaton" in members\.0; the keys are name, prompt, cwd, model, thinking, plan_mode_required, isolation, budget, agent/);
    expect(bad(GOOD.replace("{ tokens: 500000, cost_usd: 2.5 }", "{ tokns: 5 }"))).toMatch(/^t\.yaml:10: unknown key "tokns"/);
    expect(bad(GOOD.replace("  - name: tester", "  - name: API"))).toMatch(/^t\.yaml:11: members\.1\.name: "API" appears twice/);
    expect(bad(GOOD.replace("  - name: tester", "  - name: \"te\\u200bster\""))).toMatch(/^t\.yaml:11: members\.1\.name: contains .*U\+200B/);
    expect(bad("members: [\n  { name: a }\n]\n")).toMatch(/^t\.yaml:2: members\.0\.prompt: /);
    expect(bad("members:\n  - name: a\n    prompt: x\n  bad: [\n")).toMatch(/^t\.yaml:\d+: not valid YAML/);
    expect(bad("- just a list\n")).toMatch(/a team template is a mapping/);
    expect(() => loadTemplate("../../etc/passwd", { cwd: tempDir(), dataDir: tempDir() })).toThrow(/template: must not contain '\/'/);
    expect(() => loadTemplate("nope", { cwd: tempDir(), dataDir: tempDir() })).toThrow(/no template "nope"; looked in/);
  });

  it("saves a template that reads back the same, and does not overwrite one", () => {
    const t = parseTemplate(GOOD, "x.yaml");
    const file = path.join(tempDir(), ".clanker", "teams", "saved.yaml");
    saveTemplate(t, file);
    expect(parseTemplate(fs.readFileSync(file, "utf8"), file)).toEqual(t);
    expect(() => saveTemplate(t, file)).toThrow(/exists/);
  });
});
