/** The example hooks shipped in hooks/: each works as .clanker/team-hooks/task_completed.sh. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { ROOT, cleanupTemp, teamWith, tempDir, world } from "./helpers/fixtures.js";
import { runCompletionHook } from "../src/agents/hooks.js";
import { callTool } from "../src/tools/table.js";
import { getTask } from "../src/domain/tasks.js";

afterAll(cleanupTemp);

const EXAMPLES = ["run-tests.sh", "lint.sh", "notify.sh"];
const task = { id: "7", subject: `Fix "cart" $(totals)`, status: "completed" };
const hookEnv = { CLANKER_TEAM: "t", CLANKER_TASK_ID: "7", CLANKER_TASK_SUBJECT: task.subject, CLANKER_AGENT: "dev" };

/** A temp project with the given files. */
function project(files: Record<string, string>): string {
  const d = tempDir("clanker-proj-");
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(d, f), body);
  return d;
}
const run = (hook: string, cwd: string, env: NodeJS.ProcessEnv = {}) =>
  execa(path.join(ROOT, "hooks", hook), [JSON.stringify(task)], { cwd, input: JSON.stringify(task), env: { ...hookEnv, ...env }, reject: false, all: true });

describe("hooks/ examples", () => {
  it.each(EXAMPLES)("%s is executable, commented and valid sh", async (name) => {
    const file = path.join(ROOT, "hooks", name);
    expect(fs.statSync(file).mode & 0o111).toBe(0o111);
    const text = fs.readFileSync(file, "utf8");
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    expect(text).toContain(".clanker/team-hooks/task_completed.sh");
    expect((await execa("sh", ["-n", file], { reject: false })).exitCode).toBe(0);
  });

  it("run-tests.sh vetoes (exit 2) with the failing output when the tests fail", async () => {
    const d = project({ "package.json": JSON.stringify({ name: "p", scripts: { test: "node fail.js" } }), "fail.js": 'console.log("FAIL cart.test.js > totals add up"); process.exit(1);\n' });
    const r = await run("run-tests.sh", d);
    expect(r.exitCode).toBe(2);
    expect(r.all).toContain("Tests FAILED");
    expect(r.all).toContain("FAIL cart.test.js > totals add up");
    expect(r.all).toContain('#7 "Fix "cart" $(totals)"');
  });

  it("run-tests.sh passes (exit 0) when the tests pass; CLANKER_TEST_CMD overrides; no tests: exit 0", async () => {
    const ok = project({ "package.json": JSON.stringify({ name: "p", scripts: { test: "node -e 0" } }) });
    expect((await run("run-tests.sh", ok)).exitCode).toBe(0);
    const custom = await run("run-tests.sh", ok, { CLANKER_TEST_CMD: "echo custom-runner; exit 3" });
    expect(custom.exitCode).toBe(2);
    expect(custom.all).toContain("custom-runner");
    const none = await run("run-tests.sh", project({}));
    expect(none.exitCode).toBe(0);
    expect(none.all).toMatch(/no test command found/);
  });

  it("run-tests.sh installed as task_completed.sh vetoes a real completion", async () => {
    const repo = project({ "package.json": JSON.stringify({ name: "p", scripts: { test: "node -e \"console.log('2 tests failed'); process.exit(1)\"" } }) });
    fs.mkdirSync(path.join(repo, ".clanker", "team-hooks"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "hooks", "run-tests.sh"), path.join(repo, ".clanker", "team-hooks", "task_completed.sh"));
    fs.chmodSync(path.join(repo, ".clanker", "team-hooks", "task_completed.sh"), 0o755);
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await callTool(w.as(), "task_create", { team_name: "t", subject: "Totals", description: "", owner: "dev" });
    const r = await callTool(w.as("dev", { cwd: repo, runHook: runCompletionHook }), "task_update", { team_name: "t", task_id: "1", status: "completed" });
    expect(r.details.vetoed).toBe(true);
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ status: "in_progress", hookFeedback: expect.stringContaining("2 tests failed") });
  });

  it("run-tests.sh whose tests leave a server running: the veto comes back at once and the server is killed and reported", async () => {
    const repo = project({});
    fs.mkdirSync(path.join(repo, ".clanker", "team-hooks"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "hooks", "run-tests.sh"), path.join(repo, ".clanker", "team-hooks", "task_completed.sh"));
    fs.chmodSync(path.join(repo, ".clanker", "team-hooks", "task_completed.sh"), 0o755);
    const t0 = Date.now();
    const r = await runCompletionHook({ team: "t", task, agent: "dev", cwd: repo, timeoutMs: 20_000, env: { PATH: process.env.PATH, CLANKER_TEST_CMD: "setsid sleep 30 & echo $! > server.pid; echo '1 failing'; exit 1" } });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r).toMatchObject({ outcome: "veto", exitCode: 2, outputTail: expect.stringContaining("1 failing") });
    const server = Number(fs.readFileSync(path.join(repo, "server.pid"), "utf8"));
    expect(r.leftovers?.some((l) => l.startsWith(`pid ${server} `))).toBe(true);
    expect(r.outputTail).toMatch(/killed 1 process the hook left running: pid \d+ (setsid )?sleep 30/);
  });

  it("lint.sh vetoes on lint errors (or only reports with CLANKER_LINT_VETO=0); no linter: exit 0", async () => {
    const d = project({ "package.json": JSON.stringify({ name: "p", scripts: { lint: "node -e \"console.log('src/a.ts:1 no-unused-vars'); process.exit(1)\"" } }) });
    const r = await run("lint.sh", d);
    expect(r.exitCode).toBe(2);
    expect(r.all).toContain("no-unused-vars");
    expect((await run("lint.sh", d, { CLANKER_LINT_VETO: "0" })).exitCode).toBe(1);
    const clean = await run("lint.sh", d, { CLANKER_LINT_CMD: "true" });
    expect(clean.exitCode).toBe(0);
    const none = await run("lint.sh", project({}), { PATH: "/usr/bin:/bin" });
    expect([0, 2]).toContain(none.exitCode); // 0 unless shellcheck finds tracked *.sh here (it cannot: not a git repo)
  });

  it("notify.sh prints the notice, appends to CLANKER_NOTIFY_LOG, never vetoes", async () => {
    const d = project({});
    const log = path.join(d, "notify.log");
    const r = await run("notify.sh", d, { CLANKER_NOTIFY_LOG: log, DISPLAY: "", WAYLAND_DISPLAY: "" });
    expect(r.exitCode).toBe(0);
    expect(r.all).toContain(`[t] task #7 completed by dev: Fix "cart" $(totals)`);
    expect(fs.readFileSync(log, "utf8")).toMatch(/Z \[t\] task #7 completed by dev: Fix "cart" \$\(totals\)\n$/);
    const bad = await run("notify.sh", d, { CLANKER_NOTIFY_WEBHOOK: "http://127.0.0.1:9/none", DISPLAY: "" });
    expect(bad.exitCode).toBe(0);
  });
});
