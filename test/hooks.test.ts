import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runCompletionHook, runRepoHook, OUTPUT_TAIL_CHARS } from "../src/agents/hooks.js";
import { createTask, getTask, listTasks } from "../src/domain/tasks.js";
import { callTool } from "../src/tools/table.js";
import { readEvents } from "../src/domain/events.js";
import { teammateEnv } from "../src/agents/teammates.js";
import { CLI, ROOT, alive, cleanupTemp, teamWith, tempDir, until, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

/** A temp repo whose .clanker/team-hooks/task_completed.sh is `body`. */
function repoWithHook(body: string, mode = 0o755): string {
  const repo = tempDir("clanker-repo-");
  const dir = path.join(repo, ".clanker", "team-hooks");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "task_completed.sh"), `#!/bin/sh\n${body}\n`, { mode });
  return repo;
}

async function setup(repo: string, env: NodeJS.ProcessEnv = {}): Promise<{ w: World; dev: ReturnType<World["as"]> }> {
  const w = world();
  await teamWith(w, "t", ["dev"]);
  await createTask(w.as(), "t", { subject: "Ship it", description: "with \"quotes\" and $(no) expansion", owner: "dev" });
  // The data dir comes from ctx, not env: the hook must still see it.
  const dev = w.as("dev", { cwd: repo, runHook: runCompletionHook, env: { ...process.env, CLANKER_TEAMS_DIR: "/nonexistent/elsewhere", ...env } });
  return { w, dev };
}

const complete = (ctx: ReturnType<World["as"]>) => callTool(ctx, "task_update", { team_name: "t", task_id: "1", status: "completed" });

describe("task_completed hook", () => {
  it("gets the task JSON as $1 and on stdin, the env, the agent's cwd; runs after the save and outside every lock", async () => {
    const repo = repoWithHook(`
set -e
out="$PWD/hook-out"
mkdir -p "$out"
printf '%s' "$1" > "$out/arg.json"
cat > "$out/stdin.json"
pwd > "$out/cwd"
env | grep '^CLANKER_' | sort > "$out/env"
cat "$CLANKER_TEAMS_DIR/tasks/$CLANKER_TEAM/task_$CLANKER_TASK_ID.json" > "$out/saved.json"
# Take the tasks, inbox and events locks through the CLI: deadlocks if we were called under a lock.
node "$CLI_PATH" call task_create '{"team_name":"t","subject":"follow-up from hook","description":""}' > "$out/create.json"
node "$CLI_PATH" call task_list '{"team_name":"t"}' > "$out/list.json"
echo "all good from the hook"`);
    const { w, dev } = await setup(repo, { CLI_PATH: CLI, CLANKER_TEAMS_LOCK_WAIT_MS: "3000" });
    const r = await complete(dev);
    const out = (f: string) => fs.readFileSync(path.join(repo, "hook-out", f), "utf8");
    const hook = r.details.hook as { outcome: string; outputTail: string; exitCode: number };
    expect(hook).toMatchObject({ outcome: "ok", exitCode: 0 });
    expect(hook.outputTail).toContain("all good from the hook");
    expect(r.text).toContain("completion hook passed");
    expect(r.text).toContain("all good from the hook");
    const arg = JSON.parse(out("arg.json"));
    expect(arg).toMatchObject({ id: "1", subject: "Ship it", status: "completed", owner: "dev", description: 'with "quotes" and $(no) expansion' });
    expect(JSON.parse(out("stdin.json"))).toEqual(arg);
    expect(fs.realpathSync(out("cwd").trim())).toBe(fs.realpathSync(repo));
    expect(out("env")).toContain("CLANKER_TEAM=t\n");
    expect(out("env")).toContain("CLANKER_TASK_ID=1\n");
    expect(out("env")).toContain("CLANKER_AGENT=dev\n");
    expect(out("env")).toContain(`CLANKER_TEAMS_DIR=${w.dir}\n`);
    expect(JSON.parse(out("saved.json")).status).toBe("completed");
    expect(JSON.parse(out("create.json"))).toMatchObject({ ok: true, details: { task: { id: "2" } } });
    expect(JSON.parse(out("list.json")).details.tasks.map((t: { id: string }) => t.id)).toEqual(["1", "2"]);
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
    expect((await readEvents(w.as(), "t")).find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: "1", outcome: "ok" });
  });

  it("a hook that reads the documented task file first thing finds it saved (completed)", async () => {
    for (let i = 0; i < 3; i++) {
      const repo = repoWithHook(`cat "$CLANKER_TEAMS_DIR/tasks/$CLANKER_TEAM/task_$CLANKER_TASK_ID.json" > "$PWD/saved.json"`);
      const { dev } = await setup(repo);
      expect((await complete(dev)).details.hook).toMatchObject({ outcome: "ok" });
      expect(JSON.parse(fs.readFileSync(path.join(repo, "saved.json"), "utf8"))).toMatchObject({ id: "1", subject: "Ship it", status: "completed", owner: "dev" });
    }
  });

  it("exit 2 vetoes: the task goes back to in_progress with the hook's output as feedback", async () => {
    const repo = repoWithHook(`echo "FAIL test/cart.test.ts > removes an item"; echo "1 failed" >&2; exit 2`);
    const { w, dev } = await setup(repo);
    const r = await complete(dev);
    expect(r.details.vetoed).toBe(true);
    expect(r.text).toMatch(/VETOED/);
    expect(r.text).toContain("removes an item");
    const t = await getTask(w.as(), "t", "1");
    expect(t.status).toBe("in_progress");
    expect(t.completedAt).toBeUndefined();
    expect(t.hookFeedback).toContain("FAIL test/cart.test.ts > removes an item");
    expect(t.hookFeedback).toContain("1 failed");
    expect((await listTasks(w.as(), "t"))[0].status).toBe("in_progress");
    // Completing again (hook passing now) clears the feedback.
    fs.writeFileSync(path.join(repo, ".clanker/team-hooks/task_completed.sh"), "#!/bin/sh\nexit 0\n");
    await complete(dev);
    expect((await getTask(w.as(), "t", "1")).hookFeedback).toBeUndefined();
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });

  it("another non-zero exit is reported but does not veto", async () => {
    const { w, dev } = await setup(repoWithHook(`echo lint warnings; exit 1`));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect(r.text).toMatch(/hook failed \(exit 1\)/);
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });

  it("a missing hook is fine and silent", async () => {
    const { w, dev } = await setup(tempDir());
    const r = await complete(dev);
    expect(r.details.hook).toBeUndefined();
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });

  it("a hook that is not executable is reported, never silent", async () => {
    const { w, dev } = await setup(repoWithHook("exit 2", 0o644));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "not_executable" });
    expect(r.text).toMatch(/not executable/);
    expect(r.text).toContain("chmod +x");
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });

  it("a hook that times out is killed, with the child it started, and reported", async () => {
    const repo = repoWithHook(`sleep 120 & echo $! > "$PWD/child.pid"; echo $$ > "$PWD/hook.pid"; echo started; sleep 120`);
    const { w, dev } = await setup(repo, { CLANKER_HOOK_TIMEOUT_MS: "500" });
    const t0 = Date.now();
    const r = await complete(dev);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.details.hook).toMatchObject({ outcome: "timeout" });
    expect(r.text).toMatch(/timed out/);
    expect(r.text).toContain("started");
    for (const f of ["hook.pid", "child.pid"]) {
      const pid = Number(fs.readFileSync(path.join(repo, f), "utf8"));
      await until(() => !alive(pid), 4000);
    }
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });

  it("returns only the tail of long output", async () => {
    const { dev } = await setup(repoWithHook(`i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; echo THE-END`));
    const r = await complete(dev);
    const tail = (r.details.hook as { outputTail: string }).outputTail;
    expect(tail.length).toBeLessThanOrEqual(OUTPUT_TAIL_CHARS + 1);
    expect(tail.endsWith("THE-END")).toBe(true);
    expect(tail).not.toContain("line 1\n");
  });

  it("still runs for a task whose JSON is too big for one argv string (it gets the full JSON on stdin)", async () => {
    const repo = repoWithHook(`cat > "$PWD/stdin.json"; printf '%s' "$1" > "$PWD/arg.json"; echo ran`);
    const { w, dev } = await setup(repo);
    const big = '"'.repeat(60 * 1024) + "\n".repeat(4 * 1024);
    await callTool(w.as(), "task_update", { team_name: "t", task_id: "1", description: big });
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "ok" });
    expect(JSON.parse(fs.readFileSync(path.join(repo, "stdin.json"), "utf8")).description).toBe(big);
    expect(JSON.parse(fs.readFileSync(path.join(repo, "arg.json"), "utf8")).id).toBe("1");
  });
});

describe("task_completed hook with big input it does not read", () => {
  it("a hook that ignores stdin still passes", async () => {
    const { w, dev } = await setup(repoWithHook(`echo ignoring stdin`));
    await callTool(w.as(), "task_update", { team_name: "t", task_id: "1", description: "x".repeat(60 * 1024) });
    await callTool(w.as(), "task_submit_plan", { team_name: "t", task_id: "1", plan: "p".repeat(60 * 1024) });
    await callTool(w.as(), "task_evaluate_plan", { team_name: "t", task_id: "1", action: "approve" });
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "ok", outputTail: "ignoring stdin" });
  });
});

/** True while `pid` runs (a zombie nobody reaps counts as gone: here PID 1 may never reap orphans). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]);
  } catch {
    return false;
  }
}
const pidIn = (repo: string, f: string) => Number(fs.readFileSync(path.join(repo, f), "utf8"));
/** Waits in the hook until the child it started has written its pid. */
const waitFor = (f: string) => `while [ ! -s "$PWD/${f}" ]; do sleep 0.05; done`;

describe("task_completed hook: processes that outlive it", () => {
  // Each starts a child that is still running when the hook exits 2.
  const cases: Array<[string, string]> = [
    ["a background child holding the hook's stdout", `sh -c 'echo $$ > "$PWD/child.pid"; exec sleep 30' &`],
    ["a setsid child (own session) holding the hook's stdout", `setsid sh -c 'echo $$ > "$PWD/child.pid"; exec sleep 30' &`],
    ["a setsid child with its output elsewhere", `setsid sh -c 'echo $$ > "$PWD/child.pid"; exec sleep 30' >/dev/null 2>&1 </dev/null &`],
    ["a child that ignores SIGTERM", `sh -c 'trap "" TERM; echo $$ > "$PWD/child.pid"; while :; do sleep 1; done' &`],
  ];
  it.each(cases)("%s: the call returns when the hook exits, exit 2 vetoes, the child is killed and reported", async (_name, start) => {
    const repo = repoWithHook(`${start}\n${waitFor("child.pid")}\necho "hook says no"\nexit 2`);
    const { w, dev } = await setup(repo, { CLANKER_HOOK_TIMEOUT_MS: "20000" });
    const t0 = Date.now();
    const r = await complete(dev);
    expect(Date.now() - t0).toBeLessThan(2500);
    const hook = r.details.hook as { outcome: string; exitCode: number; leftovers: string[]; outputTail: string };
    expect(hook).toMatchObject({ outcome: "veto", exitCode: 2 });
    expect((await getTask(w.as(), "t", "1")).status).toBe("in_progress");
    const child = pidIn(repo, "child.pid");
    expect(hook.leftovers.some((l) => l.startsWith(`pid ${child} `))).toBe(true);
    expect(hook.outputTail).toContain("hook says no");
    expect(hook.outputTail).toMatch(/killed \d+ process(es)? the hook left running: .*pid \d+/);
    expect(r.text).toMatch(/left running/);
    await until(() => !running(child), 2000);
  });

  it("a clean hook reports no leftovers", async () => {
    const { dev } = await setup(repoWithHook(`sleep 0.1 & wait; echo fine`));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "ok", outputTail: "fine" });
    expect((r.details.hook as { leftovers?: string[] }).leftovers).toBeUndefined();
  });

  it("nothing the hook spawned keeps a Node process alive after the call returns", async () => {
    const repo = repoWithHook(`setsid sleep 30 & sleep 30 & (sleep 30 >/dev/null 2>&1 &) ; echo bye; exit 2`);
    // A plain Node script that awaits the runner and then has nothing left to do: it must exit by itself.
    const script = `import { runCompletionHook } from ${JSON.stringify(path.join(ROOT, "dist", "src", "agents", "hooks.js"))};
const r = await runCompletionHook({ team: "t", task: { id: "1" }, agent: "dev", cwd: ${JSON.stringify(repo)}, timeoutMs: 20000, env: process.env });
console.log(JSON.stringify(r));`;
    const t0 = Date.now();
    const p = await execa(process.execPath, ["--input-type=module", "-e", script], { reject: false, timeout: 10_000 });
    expect(p.timedOut).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(JSON.parse(p.stdout)).toMatchObject({ outcome: "veto", exitCode: 2, outputTail: expect.stringContaining("bye") });
  });
});

describe("task_completed hook: big output", () => {
  it("a hook printing 40 MiB runs to the end; only a bounded tail is kept; its exit 2 vetoes", async () => {
    const repo = repoWithHook(`yes "0123456789 verbose test runner output" | head -c ${40 * 1024 * 1024}; echo; echo "1 test FAILED" >&2; sleep 0.2; echo THE-END; exit 2`);
    const { w, dev } = await setup(repo);
    const r = await complete(dev);
    const hook = r.details.hook as { outcome: string; exitCode: number; outputTail: string };
    expect(hook).toMatchObject({ outcome: "veto", exitCode: 2 });
    expect(hook.outputTail.length).toBeLessThanOrEqual(OUTPUT_TAIL_CHARS + 1);
    expect(hook.outputTail.endsWith("THE-END")).toBe(true);
    expect(hook.outputTail).toContain("1 test FAILED");
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ status: "in_progress", hookFeedback: expect.stringContaining("THE-END") });
  });
});

describe("task_completed hook: timeout", () => {
  it("kills the hook and every descendant, setsid ones and SIGTERM-ignoring ones too, within timeout + 2 s", async () => {
    const repo = repoWithHook(`trap "" TERM
setsid sh -c 'echo $$ > "$PWD/child.pid"; exec sleep 60' &
${waitFor("child.pid")}
echo $$ > "$PWD/hook.pid"; echo started
while :; do sleep 1; done`);
    const { w, dev } = await setup(repo, { CLANKER_HOOK_TIMEOUT_MS: "800" });
    const t0 = Date.now();
    const r = await complete(dev);
    expect(Date.now() - t0).toBeLessThan(800 + 2500);
    const hook = r.details.hook as { outcome: string; leftovers: string[]; outputTail: string };
    expect(hook.outcome).toBe("timeout");
    expect(hook.outputTail).toContain("started");
    expect(hook.outputTail).toMatch(/timed out after/);
    const child = pidIn(repo, "child.pid");
    expect(hook.leftovers.some((l) => l.startsWith(`pid ${child} `))).toBe(true);
    for (const pid of [child, pidIn(repo, "hook.pid")]) await until(() => !running(pid), 1000);
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });
});

describe("task_completed hook: a hook file that cannot run is reported, never silent", () => {
  const hooksDir = (repo: string) => path.join(repo, ".clanker", "team-hooks");
  const cases: Array<[string, (repo: string) => void, RegExp]> = [
    ["a dangling symlink", (repo) => { fs.mkdirSync(hooksDir(repo), { recursive: true }); fs.symlinkSync("../../scripts/gone.sh", path.join(hooksDir(repo), "task_completed.sh")); }, /dangling symlink.*gone\.sh/],
    ["a symlink loop", (repo) => { fs.mkdirSync(hooksDir(repo), { recursive: true }); fs.symlinkSync("task_completed.sh", path.join(hooksDir(repo), "task_completed.sh")); }, /symlink loop/],
    ["a directory", (repo) => { fs.mkdirSync(path.join(hooksDir(repo), "task_completed.sh"), { recursive: true }); }, /is a directory/],
    ["in a hooks directory that is a dangling symlink", (repo) => { fs.mkdirSync(path.join(repo, ".clanker")); fs.symlinkSync("/nonexistent/shared-hooks", hooksDir(repo)); }, /team-hooks is a dangling symlink.*shared-hooks/],
  ];
  it.each(cases)("%s", async (_name, make, why) => {
    const repo = tempDir("clanker-repo-");
    make(repo);
    const { w, dev } = await setup(repo);
    const r = await complete(dev);
    const hook = r.details.hook as { outcome: string; ran: boolean; outputTail: string };
    expect(hook).toMatchObject({ outcome: "broken", ran: false });
    expect(hook.outputTail).toMatch(why);
    expect(r.text).toMatch(/completion hook is broken and did not run/);
    expect(r.text).toMatch(why);
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
    expect((await readEvents(w.as(), "t")).find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: "1", outcome: "broken" });
  });
});

describe("task_completed hook: killed by a signal", () => {
  it("is a reported failure naming the signal", async () => {
    const { w, dev } = await setup(repoWithHook(`echo crashing; kill -SEGV $$`));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "failed", signal: "SIGSEGV", exitCode: 139 });
    expect((r.details.hook as { outputTail: string }).outputTail).toMatch(/crashing\n\[hook was killed by SIGSEGV\]/);
    expect((await getTask(w.as(), "t", "1")).status).toBe("completed");
  });
});

describe("runRepoHook: the one runner for every repo hook", () => {
  it("runs .clanker/team-hooks/<name>.sh with the payload as $1 and on stdin, the team env plus extraEnv", async () => {
    const repo = tempDir("clanker-repo-");
    fs.mkdirSync(path.join(repo, ".clanker", "team-hooks"), { recursive: true });
    fs.writeFileSync(path.join(repo, ".clanker", "team-hooks", "teammate_idle.sh"), `#!/bin/sh
printf '%s' "$1" > "$PWD/arg.json"; cat > "$PWD/stdin.json"
echo "team=$CLANKER_TEAM agent=$CLANKER_AGENT extra=$CLANKER_TEAMMATE run=\${CLANKER_HOOK_RUN:+set}"
exit 3`, { mode: 0o755 });
    const payload = { teammate: "dev", note: `"quoted" $(x)` };
    const r = await runRepoHook("teammate_idle", { team: "t", payload, agent: "team-lead", cwd: repo, timeoutMs: 5000, env: { PATH: process.env.PATH }, extraEnv: { CLANKER_TEAMMATE: "dev" } });
    expect(r).toMatchObject({ ran: true, outcome: "failed", exitCode: 3, path: path.join(repo, ".clanker", "team-hooks", "teammate_idle.sh"), outputTail: "team=t agent=team-lead extra=dev run=set" });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(fs.readFileSync(path.join(repo, "arg.json"), "utf8"))).toEqual(payload);
    expect(JSON.parse(fs.readFileSync(path.join(repo, "stdin.json"), "utf8"))).toEqual(payload);
    expect((await runRepoHook("task_created", { team: "t", payload, agent: "x", cwd: repo, timeoutMs: 5000, env: {} })).outcome).toBe("missing");
    await expect(runRepoHook("../evil", { team: "t", payload, agent: "x", cwd: repo, timeoutMs: 5000, env: {} })).rejects.toThrow(/hook name/);
  });
});

describe("the run marker", () => {
  it("is not passed on to a teammate spawned from inside a hook (the teammate would be killed as the hook's leftover)", () => {
    const w = world();
    const env = teammateEnv(w.as("team-lead", { env: { CLANKER_HOOK_RUN: "123.abc", CLANKER_DEFAULT_THINKING_LEVEL: "low" } }), "t", "dev");
    expect(env).not.toHaveProperty("CLANKER_HOOK_RUN");
    expect(env).toMatchObject({ CLANKER_DEFAULT_THINKING_LEVEL: "low", CLANKER_AGENT_NAME: "dev" });
  });
});
