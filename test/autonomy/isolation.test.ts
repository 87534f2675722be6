/**
 * Worktree isolation through the tools, with real git, a real headless tmux
 * server (private socket) and a real stand-in agent process that reports
 * where it was started: a team whose default is "worktree" starts each
 * teammate at the same place inside its own worktree and branch (the main
 * checkout named for its hooks); check_teammate shows the branch and diff;
 * teammate_merge fast-forwards, and a conflict is named with nothing merged;
 * removing the teammate keeps a branch with unmerged work and says so;
 * "shared" overrides the default; no repository and a used-up team budget
 * are refused with the field named.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { makeCtx, type Ctx } from "../../src/context.js";
import { callTool } from "../../src/tools/table.js";
import { readTeam, updateTeam } from "../../src/domain/teams.js";
import { recordUsage } from "../../src/domain/budgets.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";

const REPORTER = path.resolve("test/autonomy/fixtures/cwd-reporter.mjs");
const tmp = fs.realpathSync(tempDir("clanker-iso-"));
const socket = path.join(tmp, "tmux.sock");
const reports = path.join(tmp, "reports");
fs.mkdirSync(reports);
const pids = new Set<number>();

afterAll(async () => {
  for (const pid of pids) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  await execa("tmux", ["-S", socket, "kill-server"], { reject: false });
  cleanupTemp();
});

const gitEnv = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...gitEnv } }).trim();

function repo(): string {
  const d = path.join(tmp, "repo");
  fs.mkdirSync(path.join(d, "web"), { recursive: true });
  git(d, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(d, "web", "app.txt"), "one\ntwo\n");
  git(d, "add", ".");
  git(d, "commit", "-qm", "start");
  return d;
}

const data = path.join(tmp, "data");
function lead(cwd: string): Ctx {
  return makeCtx({
    dataDir: data, actor: "team-lead", cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...gitEnv, CLANKER_TEAMS_DIR: data, CLANKER_TEAMS_TERMINAL: "headless", CLANKER_TEAMS_TMUX_SOCKET: socket, CLANKER_TEAMS_AGENT_CMD: JSON.stringify([process.execPath, REPORTER]), CLANKER_REPORT_DIR: reports },
    runHook: async () => ({ ran: false, outcome: "missing" }),
  });
}

async function report(name: string): Promise<{ cwd: string; pid: number; mainRepo: string | null }> {
  const f = path.join(reports, `${name}.json`);
  for (let i = 0; i < 200 && !fs.existsSync(f); i++) await new Promise((r) => setTimeout(r, 50));
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  pids.add(r.pid);
  return r;
}

describe("worktree isolation through the tools (real git, tmux, processes)", () => {
  it("spawn in a worktree, see the branch, merge it, conflicts named, removal keeps unmerged work", { timeout: 60_000 }, async () => {
    const r = repo();
    const L = lead(r);
    await callTool(L, "team_create", { team_name: "t", isolation: "worktree" });
    expect((await readTeam(L, "t")).isolation).toBe("worktree");

    const sp = await callTool(L, "spawn_teammate", { team_name: "t", name: "dev", prompt: "Work on web.", cwd: "./web" });
    const m = (await readTeam(L, "t")).members.find((x) => x.name === "dev")!;
    expect(m.worktree).toMatchObject({ repo: r, branch: "clanker/t/dev", base: "main", subdir: "web" });
    const wt = m.worktree!.dir;
    expect(wt.startsWith(path.join(data, "worktrees"))).toBe(true); // out of the repository
    expect(sp.text).toContain(`worktree ${wt} on branch clanker/t/dev`);
    const rep = await report("dev");
    expect(rep.cwd).toBe(path.join(wt, "web")); // started at the same place inside its worktree
    expect(rep.mainRepo).toBe(r);
    expect(m.cwd).toBe(path.join(wt, "web"));

    // the teammate commits on its branch and leaves one file uncommitted
    fs.writeFileSync(path.join(wt, "web", "cart.txt"), "cart\n");
    git(wt, "add", ".");
    git(wt, "commit", "-qm", "dev: cart");
    fs.writeFileSync(path.join(wt, "web", "draft.txt"), "draft\n");
    const ck = await callTool(L, "check_teammate", { team_name: "t", agent_name: "dev" });
    expect(ck.text).toMatch(/\nbranch clanker\/t\/dev: 1 ahead, 0 behind main; 1 uncommitted: web\/draft\.txt\n web\/cart\.txt \| 1 \+/);
    expect(ck.details.worktree).toMatchObject({ ahead: 1, behind: 0, into: "main" });

    const merged = await callTool(L, "teammate_merge", { team_name: "t", agent_name: "dev" });
    expect(merged.text).toMatch(/^clanker\/t\/dev merged into main \(fast-forward [0-9a-f]+\)\. Not merged: 1 uncommitted file\(s\) in its worktree \(web\/draft\.txt\); ask it to commit them\.$/);
    expect(fs.readFileSync(path.join(r, "web", "cart.txt"), "utf8")).toBe("cart\n");

    // both change the same line: the conflict is named and nothing is merged
    fs.writeFileSync(path.join(wt, "web", "app.txt"), "one\nTWO by dev\n");
    git(wt, "commit", "-qam", "dev: app");
    fs.writeFileSync(path.join(r, "web", "app.txt"), "one\nTWO by lead\n");
    git(r, "commit", "-qam", "lead: app");
    const head = git(r, "rev-parse", "HEAD");
    const conflict = await callTool(L, "teammate_merge", { team_name: "t", agent_name: "dev" });
    expect(conflict.details).toMatchObject({ merged: false, conflicts: ["web/app.txt"] });
    expect(conflict.text).toMatch(/conflicts in web\/app\.txt; nothing was merged/);
    expect(git(r, "rev-parse", "HEAD")).toBe(head);
    expect(git(r, "status", "--porcelain", "--untracked-files=no")).toBe("");
    expect(fs.existsSync(path.join(r, ".git", "MERGE_HEAD"))).toBe(false);
    const ff = await callTool(L, "teammate_merge", { team_name: "t", agent_name: "dev", mode: "ff" }).catch((e) => e);
    expect(ff.message).toMatch(/cannot be fast-forwarded into main/);

    // removed with uncommitted work: worktree and branch kept
    const killed = await callTool(L, "force_kill_teammate", { team_name: "t", agent_name: "dev" });
    expect(killed.text).toContain(`worktree ${wt} kept: 1 uncommitted file(s) (web/draft.txt); branch clanker/t/dev kept.`);
    expect(fs.existsSync(wt)).toBe(true);

    // spawned again: the same worktree and branch, with its work
    await callTool(L, "spawn_teammate", { team_name: "t", name: "dev", prompt: "Go on.", cwd: "./web" });
    expect((await report("dev")).cwd).toBe(path.join(wt, "web"));
    fs.rmSync(path.join(wt, "web", "draft.txt"));
    const again = await callTool(L, "force_kill_teammate", { team_name: "t", agent_name: "dev" });
    expect(again.text).toContain("branch clanker/t/dev kept: it has 1 commit(s) main does not (teammate_merge merges them).");
    expect(fs.existsSync(wt)).toBe(false);
    expect(git(r, "branch", "--list", "clanker/t/dev")).toContain("clanker/t/dev");

    // "shared" overrides the team's default
    await callTool(L, "spawn_teammate", { team_name: "t", name: "docs", prompt: "Docs.", cwd: ".", isolation: "shared" });
    expect((await report("docs")).cwd).toBe(r);
    expect((await readTeam(L, "t")).members.find((x) => x.name === "docs")!.worktree).toBeUndefined();
    const noBranch = await callTool(L, "teammate_merge", { team_name: "t", agent_name: "docs" }).catch((e) => e);
    expect(noBranch.message).toMatch(/^agent_name: docs works in the shared tree \(isolation "shared"\)/);

    // a merged teammate's branch goes with it when the team is deleted
    await callTool(L, "spawn_teammate", { team_name: "t", name: "ops", prompt: "Ops.", cwd: "." });
    await report("ops");
    const del = await callTool(L, "team_delete", { team_name: "t" });
    expect(del.text).toMatch(/\nops: branch clanker\/t\/ops deleted \(fully merged\)/);
  });

  it("refuses worktree isolation outside a repository, and any spawn once the team budget is used up", { timeout: 30_000 }, async () => {
    const plain = tempDir("clanker-plain-");
    const L = lead(plain);
    await callTool(L, "team_create", { team_name: "u", budget: { tokens: 100 } });
    const e = await callTool(L, "spawn_teammate", { team_name: "u", name: "a", prompt: "x", cwd: ".", isolation: "worktree" }).catch((x) => x);
    expect(e.message).toMatch(/^isolation: "worktree" needs a git repository, and .* is not in one; use isolation "shared"/);
    expect((await readTeam(L, "u")).members.map((m) => m.name)).toEqual(["team-lead"]);
    await updateTeam(L, "u", (c) => { c.members.push({ name: "b", agentId: "b1", role: "teammate", joinedAt: c.createdAt }); return { value: undefined, write: true }; });
    await recordUsage(makeCtx({ dataDir: data, actor: "b", cwd: plain }), "u", "b", { tokens: 150, costUsd: 0 });
    const over = await callTool(L, "spawn_teammate", { team_name: "u", name: "c", prompt: "x", cwd: "." }).catch((x) => x);
    expect(over.code).toBe("CONFLICT");
    expect(over.message).toBe('budget: team "u" has used up its budget (150 tokens, $0.0000 (150 % of 100 tokens)); a teammate would stop at once. A person raises it with: clanker-teams budget u --tokens N (or --cost USD).');
    const bad = await callTool(L, "spawn_teammate", { team_name: "u", name: "d", prompt: "x", cwd: ".", budget: {} }).catch((x) => x);
    expect(bad.message).toMatch(/^budget: give tokens or cost_usd/);
  });
});
