/**
 * Team templates through the tools, with a real headless tmux server and
 * stand-in agent processes: team_create with `template` applies the
 * template's settings and spawns its members (defaults filled in, cwd
 * relative to the lead); a template naming an agent kind this build cannot
 * spawn, or a missing directory, is refused before anything is created;
 * team_save_template writes a running team back (never overwriting), and
 * that file creates the same team again.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { makeCtx, type Ctx } from "../../src/context.js";
import { callTool } from "../../src/tools/table.js";
import { listTeams, readTeam } from "../../src/domain/teams.js";
import { parseTemplate } from "../../src/agents/templates.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";

const REPORTER = path.resolve("test/autonomy/fixtures/cwd-reporter.mjs");
const tmp = fs.realpathSync(tempDir("clanker-tpl-"));
const socket = path.join(tmp, "tmux.sock");
const reports = path.join(tmp, "reports");
const data = path.join(tmp, "data");
fs.mkdirSync(reports);
const pids = new Set<number>();

afterAll(async () => {
  for (const pid of pids) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  await execa("tmux", ["-S", socket, "kill-server"], { reject: false });
  cleanupTemp();
});

function lead(cwd: string): Ctx {
  return makeCtx({
    dataDir: data, actor: "team-lead", cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CLANKER_TEAMS_DIR: data, CLANKER_TEAMS_TERMINAL: "headless", CLANKER_TEAMS_TMUX_SOCKET: socket, CLANKER_TEAMS_AGENT_CMD: JSON.stringify([process.execPath, REPORTER]), CLANKER_REPORT_DIR: reports },
    runHook: async () => ({ ran: false, outcome: "missing" }),
  });
}

async function report(name: string): Promise<{ cwd: string; pid: number; argv: string[] }> {
  const f = path.join(reports, `${name}.json`);
  for (let i = 0; i < 200 && !fs.existsSync(f); i++) await new Promise((r) => setTimeout(r, 50));
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  pids.add(r.pid);
  fs.rmSync(f);
  return r;
}

const SQUAD = `description: Web squad
defaults:
  model: scripted/scripted-1
  thinking: low
budget: { tokens: 2000000 }
stuck_after_s: 60
members:
  - name: api
    prompt: Claim the API tasks.
    cwd: api
    budget: { tokens: 500000, cost_usd: 2.5 }
  - name: tester
    prompt: Write the tests once the API is done.
    plan_mode_required: true
    thinking: high
`;

describe("team templates through the tools", () => {
  it("team_create with a template spawns its members with the template's settings; save writes it back; the saved file creates the same team", { timeout: 60_000 }, async () => {
    const repo = path.join(tmp, "repo");
    fs.mkdirSync(path.join(repo, "api"), { recursive: true });
    execFileSync("git", ["init", "-q", repo]);
    fs.mkdirSync(path.join(repo, ".clanker", "teams"), { recursive: true });
    fs.writeFileSync(path.join(repo, ".clanker", "teams", "squad.yaml"), SQUAD);
    const L = lead(repo);

    const r = await callTool(L, "team_create", { team_name: "web", template: "squad" });
    expect(r.text).toBe(`Team "web" created from ${path.join(repo, ".clanker", "teams", "squad.yaml")}; you are team-lead. Spawned: api, tester.`);
    const cfg = await readTeam(L, "web");
    expect(cfg).toMatchObject({ description: "Web squad", budget: { tokens: 2000000 }, stuckAfterMs: 60_000 });
    expect(cfg.members.map((m) => [m.name, m.model, m.thinking, m.planModeRequired, m.budget])).toEqual([
      ["team-lead", undefined, undefined, undefined, undefined],
      ["api", "scripted/scripted-1", "low", false, { tokens: 500000, cost_usd: 2.5 }],
      ["tester", "scripted/scripted-1", "high", true, undefined],
    ]);
    const api = await report("api");
    expect(api.cwd).toBe(path.join(repo, "api"));
    expect(api.argv.slice(0, 4)).toEqual(["--model", "scripted/scripted-1", "--thinking", "low"]);
    expect((await report("tester")).cwd).toBe(repo);

    const saved = await callTool(L, "team_save_template", { team_name: "web", name: "squad-copy" });
    const file = path.join(repo, ".clanker", "teams", "squad-copy.yaml");
    expect(saved.text).toBe(`Saved template "squad-copy" (2 teammate(s)) to ${file}.`);
    const t = parseTemplate(fs.readFileSync(file, "utf8"), file);
    expect(t).toEqual({
      description: "Web squad", budget: { tokens: 2000000 }, stuck_after_s: 60,
      members: [
        { name: "api", prompt: "Claim the API tasks.", cwd: "api", model: "scripted/scripted-1", thinking: "low", budget: { tokens: 500000, cost_usd: 2.5 } },
        { name: "tester", prompt: "Write the tests once the API is done.", model: "scripted/scripted-1", thinking: "high", plan_mode_required: true },
      ],
    });
    const again = await callTool(L, "team_save_template", { team_name: "web", name: "squad-copy" }).catch((e) => e);
    expect(again.message).toMatch(/squad-copy\.yaml exists; choose another name or remove it first/);

    await callTool(L, "team_create", { team_name: "web2", template: "squad-copy" });
    const cfg2 = await readTeam(L, "web2");
    expect(cfg2.members.map((m) => [m.name, m.model, m.thinking, m.planModeRequired, m.budget, m.cwd])).toEqual(
      cfg.members.map((m) => [m.name, m.model, m.thinking, m.planModeRequired, m.budget, m.cwd]));
    expect(cfg2).toMatchObject({ description: "Web squad", budget: { tokens: 2000000 }, stuckAfterMs: 60_000 });
    await report("api");
    await report("tester");
    for (const team of ["web", "web2"]) await callTool(L, "team_delete", { team_name: team });
  });

  it("refuses, before creating anything, a member of an agent kind this build cannot spawn, a missing directory, a bad template (file, line, field), a missing one", { timeout: 30_000 }, async () => {
    const dir = tempDir("clanker-tpl-repo-");
    fs.mkdirSync(path.join(dir, ".clanker", "teams"), { recursive: true });
    const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, ".clanker", "teams", `${name}.yaml`), text);
    write("claude", "members:\n  - name: a\n    prompt: x\n  - name: b\n    prompt: y\n    agent: claude\n");
    write("nodir", "members:\n  - name: a\n    prompt: x\n    cwd: no/such/dir\n");
    write("bad", "members:\n  - name: a\n    prompt: x\n    thinking: extreme\n");
    const L = lead(dir);
    const before = await listTeams(L);
    const f = (n: string) => path.join(dir, ".clanker", "teams", `${n}.yaml`);
    const err = async (template: string) => (await callTool(L, "team_create", { team_name: "x", template }).catch((e) => e)).message as string;
    expect(await err("claude")).toBe(`${f("claude")}: members.1.agent: "claude" teammates cannot be spawned by this build (only pi or clanker, the team's agent command); remove "agent" or set it to pi`);
    expect(await err("nodir")).toMatch(new RegExp(`^${f("nodir").replace(/[.]/g, "\\.")}: members\\.0\\.cwd: ".*no/such/dir" is not an existing directory`));
    expect(await err("bad")).toMatch(new RegExp(`^${f("bad").replace(/[.]/g, "\\.")}:4: members\\.0\\.thinking: `));
    expect(await err("nope")).toMatch(/^template: no template "nope"; looked in /);
    expect(await listTeams(L)).toEqual(before);
    await callTool(L, "team_create", { team_name: "empty" });
    expect((await callTool(L, "team_save_template", { team_name: "empty", name: "e" }).catch((e) => e)).message).toMatch(/^team_name: team "empty" has no teammates to save/);
  });
});
