/**
 * The lifecycle hooks with real hook processes: task_created runs before
 * the task is committed (exit 2 refuses it with the output as the reason,
 * nothing is created; a failing hook is reported and the task created),
 * teammate_idle gets its payload and feedback count, a worktree teammate
 * finds the main checkout's hooks, and the examples in hooks/ do what they say.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { ROOT, cleanupTemp, teamWith, tempDir, world } from "../helpers/fixtures.js";
import { runCompletionHook, runRepoHook } from "../../src/agents/hooks.js";
import { runIdleHook, idleFeedback } from "../../src/agents/idle-hook.js";
import { claimTask, createTask, listTasks } from "../../src/domain/tasks.js";
import { readEvents } from "../../src/domain/events.js";
import { callTool } from "../../src/tools/table.js";

afterAll(cleanupTemp);

/** A directory with `.clanker/team-hooks/<name>.sh` = body (executable). */
function withHook(name: string, body: string, dir = tempDir("clanker-hooks-")): string {
  fs.mkdirSync(path.join(dir, ".clanker", "team-hooks"), { recursive: true });
  const f = path.join(dir, ".clanker", "team-hooks", `${name}.sh`);
  fs.writeFileSync(f, body);
  fs.chmodSync(f, 0o755);
  return dir;
}
const install = (example: string, as: string, dir?: string) => withHook(as, fs.readFileSync(path.join(ROOT, "hooks", example), "utf8"), dir);

describe("task_created hook", () => {
  it("exit 2 refuses the creation before anything is stored, with the output as the reason; the hook saw the task on $1 and stdin", async () => {
    const seen = tempDir("clanker-seen-");
    const repo = withHook("task_created", `#!/bin/sh\nprintf '%s' "$1" > '${seen}/argv.json'\ncat > '${seen}/stdin.json'\nprintf '%s %s %s' "$CLANKER_TEAM" "$CLANKER_AGENT" "$CLANKER_TASK_SUBJECT" > '${seen}/env'\necho "POLICY: tasks need an owner"\nexit 2\n`);
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const err = await callTool(w.as("dev", { cwd: repo, runHook: runCompletionHook }), "task_create", { team_name: "t", subject: "Unowned thing", description: "d" }).catch((e) => e);
    expect(err.code).toBe("FORBIDDEN");
    expect(err.message).toBe("task_create refused by the repo's task_created hook (exit 2):\nPOLICY: tasks need an owner\nChange the task as it says and create it again.");
    expect(await listTasks(w.as(), "t", { include_deleted: true })).toEqual([]);
    const events = await readEvents(w.as(), "t");
    expect(events.some((e) => e.kind === "task.created")).toBe(false);
    expect(events.find((e) => e.kind === "hook.ran")?.data).toMatchObject({ hook: "task_created", outcome: "veto", exitCode: 2, subject: "Unowned thing" });
    const argv = JSON.parse(fs.readFileSync(path.join(seen, "argv.json"), "utf8"));
    expect(argv).toMatchObject({ id: "", subject: "Unowned thing", description: "d", status: "pending", createdBy: "dev" });
    expect(JSON.parse(fs.readFileSync(path.join(seen, "stdin.json"), "utf8"))).toEqual(argv);
    expect(fs.readFileSync(path.join(seen, "env"), "utf8")).toBe("t dev Unowned thing");
    // ids are not used up by a refused task
    fs.rmSync(path.join(repo, ".clanker"), { recursive: true });
    expect((await createTask(w.as("dev", { cwd: repo, runHook: runCompletionHook }), "t", { subject: "ok", description: "" })).id).toBe("1");
  });

  it("a hook that fails otherwise (exit 1) does not block: the task is created and the failure is in the result", async () => {
    const repo = withHook("task_created", "#!/bin/sh\necho 'lint of task text crashed' >&2\nexit 1\n");
    const w = world();
    await teamWith(w, "t", []);
    const r = await callTool(w.as("team-lead", { cwd: repo, runHook: runCompletionHook }), "task_create", { team_name: "t", subject: "s", description: "d" });
    expect(r.text).toBe("Task #1 created.\ntask_created hook failed (exit 1):\nlint of task text crashed");
    expect(r.details.hook).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect((await readEvents(w.as(), "t")).find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: "1", hook: "task_created", outcome: "failed" });
  });

  it("hooks/task-policy.sh refuses an empty description and one that does not say when it is done; accepts one that does", async () => {
    const repo = install("task-policy.sh", "task_created");
    const w = world();
    await teamWith(w, "t", []);
    const lead = w.as("team-lead", { cwd: repo, runHook: runCompletionHook });
    const create = (description: string) => callTool(lead, "task_create", { team_name: "t", subject: "Cart API", description });
    expect((await create("").catch((e) => e)).message).toMatch(/refused by the repo's task_created hook \(exit 2\):\nTask "Cart API" refused: its description is empty\./);
    expect((await create("make it \"blue\"").catch((e) => e)).message).toMatch(/does not say how to know it is done/);
    expect((await create("POST /cart. Done when: the cart tests pass.")).text).toBe("Task #1 created.\ntask_created hook passed.");
  });
});

describe("teammate_idle hook", () => {
  it("gets the teammate's unfinished tasks and the feedback count; exit 2 is feedback; hooks/keep-working.sh sends it back while a task is in progress, then lets it rest", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const dir = install("keep-working.sh", "teammate_idle");
    const dev = w.as("dev", { cwd: dir, env: { ...w.env, CLANKER_IDLE_CHECK_GIT: "0" } });
    expect((await runIdleHook(dev, "t", 0)).outcome).toBe("ok"); // nothing in progress
    const t = await createTask(w.as(), "t", { subject: "Port the parser", description: "" });
    await claimTask(dev, "t", t.id);
    const r = await runIdleHook(dev, "t", 0);
    expect(r).toMatchObject({ outcome: "veto", exitCode: 2 });
    expect(r.outputTail).toContain(`#${t.id} "Port the parser"`);
    expect(idleFeedback(r)).toMatch(/^\[clanker-teams\] The repo's teammate_idle hook \(exit 2\) sends this back; keep working on it:\nYou went idle, but these tasks are still yours and in_progress:/);
    const rest = await runIdleHook(dev, "t", 3);
    expect(rest.outcome).toBe("ok");
    expect(rest.outputTail).toMatch(/sent dev back 3 times in a row; letting it rest/);
    const ran = (await readEvents(w.as(), "t")).filter((e) => e.kind === "hook.ran").map((e) => [e.data.hook, e.data.outcome, e.data.feedbackCount]);
    expect(ran).toEqual([["teammate_idle", "ok", 0], ["teammate_idle", "veto", 0], ["teammate_idle", "ok", 3]]);
  });

  it("hooks/keep-working.sh in a git checkout sends back a teammate that leaves uncommitted changes", async () => {
    const dir = tempDir("clanker-repo-");
    await execa("git", ["init", "-q", dir]);
    install("keep-working.sh", "teammate_idle", dir);
    fs.writeFileSync(path.join(dir, "notes.txt"), "x");
    const payload = { team: "t", agent: "dev", tasks: [], feedbackCount: 0 };
    const r = await execa(path.join(dir, ".clanker", "team-hooks", "teammate_idle.sh"), [JSON.stringify(payload)], { cwd: dir, reject: false, all: true, env: { CLANKER_AGENT: "dev" } });
    expect(r.exitCode).toBe(2);
    expect(r.all).toMatch(/uncommitted changes in .*\n\?\? \.clanker\/\n\?\? notes\.txt\nCommit them/);
  });

  it("a worktree teammate without the hook in its checkout runs the main checkout's, in its own directory", async () => {
    const main = withHook("teammate_idle", "#!/bin/sh\npwd\nexit 2\n");
    const wt = tempDir("clanker-wt-");
    const r = await runRepoHook("teammate_idle", { team: "t", payload: {}, agent: "dev", cwd: wt, timeoutMs: 10_000, env: { ...process.env, CLANKER_TEAMS_MAIN_REPO: main } });
    expect(r).toMatchObject({ outcome: "veto", path: path.join(main, ".clanker", "team-hooks", "teammate_idle.sh") });
    expect(fs.realpathSync(r.outputTail!.trim())).toBe(fs.realpathSync(wt));
    // its own hook wins when it has one
    withHook("teammate_idle", "#!/bin/sh\necho own\nexit 0\n", wt);
    expect(await runRepoHook("teammate_idle", { team: "t", payload: {}, agent: "dev", cwd: wt, timeoutMs: 10_000, env: { ...process.env, CLANKER_TEAMS_MAIN_REPO: main } })).toMatchObject({ outcome: "ok", outputTail: "own" });
  });
});

describe("the new hooks/ examples", () => {
  it.each([["keep-working.sh", "teammate_idle.sh"], ["task-policy.sh", "task_created.sh"]])("%s is executable, says where it goes, and is valid sh", async (name, as) => {
    const file = path.join(ROOT, "hooks", name);
    expect(fs.statSync(file).mode & 0o111).toBe(0o111);
    const text = fs.readFileSync(file, "utf8");
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    expect(text).toContain(`.clanker/team-hooks/${as}`);
    expect((await execa("sh", ["-n", file], { reject: false })).exitCode).toBe(0);
  });
});
