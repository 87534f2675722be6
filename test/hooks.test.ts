import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { runCompletionHook, OUTPUT_TAIL_CHARS } from "../src/hooks.js";
import { createTask, getTask, listTasks } from "../src/tasks.js";
import { callTool } from "../src/tools/table.js";
import { readEvents } from "../src/events.js";
import { CLI, alive, cleanupTemp, teamWith, tempDir, until, world, type World } from "./helpers/fixtures.js";

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
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
    expect(readEvents(w.as(), "t").find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: "1", outcome: "ok" });
  });

  it("exit 2 vetoes: the task goes back to in_progress with the hook's output as feedback", async () => {
    const repo = repoWithHook(`echo "FAIL test/cart.test.ts > removes an item"; echo "1 failed" >&2; exit 2`);
    const { w, dev } = await setup(repo);
    const r = await complete(dev);
    expect(r.details.vetoed).toBe(true);
    expect(r.text).toMatch(/VETOED/);
    expect(r.text).toContain("removes an item");
    const t = getTask(w.as(), "t", "1");
    expect(t.status).toBe("in_progress");
    expect(t.completedAt).toBeUndefined();
    expect(t.hookFeedback).toContain("FAIL test/cart.test.ts > removes an item");
    expect(t.hookFeedback).toContain("1 failed");
    expect(listTasks(w.as(), "t")[0].status).toBe("in_progress");
    // Completing again (hook passing now) clears the feedback.
    fs.writeFileSync(path.join(repo, ".clanker/team-hooks/task_completed.sh"), "#!/bin/sh\nexit 0\n");
    await complete(dev);
    expect(getTask(w.as(), "t", "1").hookFeedback).toBeUndefined();
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
  });

  it("another non-zero exit is reported but does not veto", async () => {
    const { w, dev } = await setup(repoWithHook(`echo lint warnings; exit 1`));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect(r.text).toMatch(/hook failed \(exit 1\)/);
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
  });

  it("a missing hook is fine and silent", async () => {
    const { w, dev } = await setup(tempDir());
    const r = await complete(dev);
    expect(r.details.hook).toBeUndefined();
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
  });

  it("a hook that is not executable is reported, never silent", async () => {
    const { w, dev } = await setup(repoWithHook("exit 2", 0o644));
    const r = await complete(dev);
    expect(r.details.hook).toMatchObject({ outcome: "not_executable" });
    expect(r.text).toMatch(/not executable/);
    expect(r.text).toContain("chmod +x");
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
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
    expect(getTask(w.as(), "t", "1").status).toBe("completed");
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
