import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { claimTask, createTask, evaluatePlan, getTask, listTasks, releaseTask, submitPlan, updateTask } from "../src/tasks.js";
import { readInbox } from "../src/messages.js";
import { readEvents } from "../src/events.js";
import { TeamsError } from "../src/errors.js";
import { compact, intentFile, logFile } from "../src/task-index.js";
import { cleanupTemp, readJsonFile, teamWith, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

async function err(p: Promise<unknown> | (() => unknown)): Promise<TeamsError> {
  try { await (typeof p === "function" ? p() : p); } catch (e) { return e as TeamsError; }
  throw new Error("expected an error");
}

async function setup(members = ["dev", "qa"]): Promise<World> {
  const w = world();
  await teamWith(w, "t", members);
  return w;
}

const inbox = async (w: World, who: string) => (await readInbox(w.as(who), "t")).messages;

describe("task_create / task_get / task_list", () => {
  it("creates pending tasks with sequential ids and the documented fields", async () => {
    const w = await setup();
    const a = await createTask(w.as(), "t", { subject: "A", description: "do a" });
    const b = await createTask(w.as("dev"), "t", { subject: "B", description: "" });
    expect([a.id, b.id]).toEqual(["1", "2"]);
    const onDisk = readJsonFile(w.as().paths.taskFile("t", "1"));
    for (const k of ["id", "subject", "description", "status", "blocks", "blockedBy", "createdAt", "updatedAt"]) expect(onDisk).toHaveProperty(k);
    expect(onDisk).toMatchObject({ id: "1", subject: "A", description: "do a", status: "pending", blocks: [], blockedBy: [] });
    expect(getTask(w.as(), "t", "2").createdBy).toBe("dev");
    expect(listTasks(w.as(), "t").map((t) => t.id)).toEqual(["1", "2"]);
  });

  it("refuses bad fields with an error naming the field", async () => {
    const w = await setup();
    expect((await err(createTask(w.as(), "t", { subject: "", description: "" }))).message).toMatch(/^subject: /);
    expect((await err(createTask(w.as(), "t", { subject: "x".repeat(201), description: "" }))).message).toMatch(/^subject: /);
    expect((await err(createTask(w.as(), "t", { subject: "a\u0000", description: "" }))).message).toMatch(/^subject: .*NUL/);
    expect((await err(createTask(w.as(), "t", { subject: "s", description: "", status: "done" }))).message).toMatch(/^status: unknown status "done"; use one of pending/);
    expect((await err(createTask(w.as(), "t", { subject: "s", description: "", status: "completed" }))).message).toMatch(/^status: /);
    expect((await err(createTask(w.as(), "t", { subject: "s", description: "", owner: "ghost" }))).message).toMatch(/^owner: "ghost" is not a member.*members: team-lead, dev, qa/);
    expect((await err(createTask(w.as(), "t", { subject: "s", description: "", blocked_by: ["9"] }))).message).toMatch(/^blocked_by: task "9" does not exist/);
    expect((await err(createTask(w.as("stranger"), "t", { subject: "s", description: "" }))).code).toBe("NOT_FOUND");
    expect((await err(() => getTask(w.as(), "t", "5"))).message).toMatch(/^task_id: task "5" does not exist/);
    expect((await err(() => listTasks(w.as(), "t", { status: "nope" }))).message).toMatch(/^status: /);
    expect(listTasks(w.as(), "t")).toEqual([]);
  });

  it("filters by status and owner (owner \"\" = unowned)", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    await createTask(w.as(), "t", { subject: "B", description: "" });
    await createTask(w.as(), "t", { subject: "C", description: "", status: "in_progress", owner: "qa" });
    expect(listTasks(w.as(), "t", { owner: "dev" }).map((t) => t.id)).toEqual(["1"]);
    expect(listTasks(w.as(), "t", { owner: "" }).map((t) => t.id)).toEqual(["2"]);
    expect(listTasks(w.as(), "t", { status: "in_progress" }).map((t) => t.id)).toEqual(["3"]);
  });
});

describe("task_update changes only the given fields", () => {
  it("status never clears the owner, owner never resets the status", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "desc", owner: "dev" });
    await updateTask(w.as(), "t", "1", { active_form: "Working" });
    let r = await updateTask(w.as("dev"), "t", "1", { status: "in_progress" });
    expect(r.changed).toEqual(["status"]);
    expect(r.task).toMatchObject({ owner: "dev", status: "in_progress", subject: "A", description: "desc", activeForm: "Working" });
    r = await updateTask(w.as(), "t", "1", { owner: "qa" });
    expect(r.changed).toEqual(["owner"]);
    expect(r.task).toMatchObject({ owner: "qa", status: "in_progress", subject: "A", description: "desc", activeForm: "Working" });
    r = await updateTask(w.as(), "t", "1", { subject: "A2" });
    expect(getTask(w.as(), "t", "1")).toMatchObject({ owner: "qa", status: "in_progress", subject: "A2", description: "desc", activeForm: "Working" });
    r = await updateTask(w.as(), "t", "1", {});
    expect(r.changed).toEqual([]);
    r = await updateTask(w.as(), "t", "1", { owner: "" });
    expect(r.task.owner).toBeUndefined();
    expect(r.task.status).toBe("in_progress");
  });

  it("teammates edit their own or unowned tasks; only the lead assigns to others", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    await createTask(w.as(), "t", { subject: "B", description: "" });
    expect((await err(updateTask(w.as("qa"), "t", "1", { status: "in_progress" }))).code).toBe("FORBIDDEN");
    expect((await err(updateTask(w.as("qa"), "t", "2", { owner: "dev" }))).message).toMatch(/^owner: only team-lead assigns/);
    expect((await updateTask(w.as("qa"), "t", "2", { owner: "qa" })).task.owner).toBe("qa");
    expect((await err(updateTask(w.as(), "t", "2", { owner: "ghost" }))).message).toMatch(/^owner: "ghost" is not a member/);
  });

  it("an unknown status or task is refused and nothing changes", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    const before = fs.readFileSync(w.as().paths.taskFile("t", "1"), "utf8");
    expect((await err(updateTask(w.as(), "t", "1", { status: "done", subject: "changed" }))).message).toMatch(/^status: /);
    expect((await err(updateTask(w.as(), "t", "7", { subject: "x" }))).message).toMatch(/^task_id: task "7" does not exist/);
    expect((await err(updateTask(w.as(), "t", "abc", { subject: "x" }))).message).toMatch(/^task_id: /);
    expect(fs.readFileSync(w.as().paths.taskFile("t", "1"), "utf8")).toBe(before);
  });

  it("assigning an owner messages that owner with the task", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "Write docs", description: "README", owner: "dev" });
    await createTask(w.as(), "t", { subject: "Test it", description: "all of it" });
    await updateTask(w.as(), "t", "2", { owner: "qa" });
    const dev = await inbox(w, "dev");
    expect(dev).toHaveLength(1);
    expect(dev[0]).toMatchObject({ from: "team-lead", kind: "task_assigned" });
    expect(dev[0].content).toContain("Write docs");
    const qa = await inbox(w, "qa");
    expect(qa.map((m) => m.content.includes("Test it"))).toEqual([true]);
    // Setting the same owner again is no change and sends nothing.
    await updateTask(w.as(), "t", "2", { owner: "qa" });
    expect(await inbox(w, "qa")).toHaveLength(0);
  });
});

describe("statuses and plans", () => {
  it("submit → planning; approve → in_progress with feedback cleared", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    await submitPlan(w.as("dev"), "t", "1", "v1");
    await evaluatePlan(w.as(), "t", "1", "reject", "more tests");
    let t = await submitPlan(w.as("dev"), "t", "1", "v2");
    expect(t).toMatchObject({ status: "planning", plan: "v2", planStatus: "submitted" });
    expect(t.planFeedback).toBeUndefined();
    const lead = await inbox(w, "team-lead");
    expect(lead.filter((m) => m.kind === "plan_submitted")).toHaveLength(2);
    t = (await evaluatePlan(w.as(), "t", "1", "approve")).task;
    expect(t).toMatchObject({ status: "in_progress", planStatus: "approved", owner: "dev" });
    expect(t.planFeedback).toBeUndefined();
    expect((await inbox(w, "dev")).map((m) => m.kind)).toEqual(["task_assigned", "plan_rejected", "plan_approved"]);
  });

  it("reject requires feedback and sets in_progress with it", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    await submitPlan(w.as("dev"), "t", "1", "plan");
    expect((await err(evaluatePlan(w.as(), "t", "1", "reject"))).message).toMatch(/^feedback: is required/);
    expect((await err(evaluatePlan(w.as(), "t", "1", "reject", ""))).message).toMatch(/^feedback: /);
    expect(getTask(w.as(), "t", "1").status).toBe("planning");
    const { task } = await evaluatePlan(w.as(), "t", "1", "reject", "split it");
    expect(task).toMatchObject({ status: "in_progress", planStatus: "rejected", planFeedback: "split it" });
  });

  it("only the lead evaluates; a plan must be awaiting review; action must be approve|reject", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    expect((await err(evaluatePlan(w.as(), "t", "1", "approve"))).message).toMatch(/^task_id: .*no plan awaiting review/);
    await submitPlan(w.as("dev"), "t", "1", "plan");
    expect((await err(evaluatePlan(w.as("dev"), "t", "1", "approve"))).code).toBe("FORBIDDEN");
    expect((await err(evaluatePlan(w.as(), "t", "1", "maybe"))).message).toMatch(/^action: /);
    expect((await err(submitPlan(w.as("qa"), "t", "1", "mine"))).code).toBe("FORBIDDEN");
  });

  it("a deleted task is hidden from task_list unless status \"deleted\" is asked for, stays on disk, and its id is never reused", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await createTask(w.as(), "t", { subject: "B", description: "" });
    await updateTask(w.as(), "t", "2", { status: "deleted" });
    expect(listTasks(w.as(), "t").map((t) => t.id)).toEqual(["1"]);
    expect(listTasks(w.as(), "t", { status: "deleted" }).map((t) => t.id)).toEqual(["2"]);
    expect(getTask(w.as(), "t", "2").status).toBe("deleted");
    expect((await err(updateTask(w.as(), "t", "2", { status: "pending" }))).message).toMatch(/^task_id: task 2 is deleted/);
    expect((await createTask(w.as(), "t", { subject: "C", description: "" })).id).toBe("3");
  });

  it("ids are never reused after the index (tasks.json and its log) is lost: it is rebuilt from the task files", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "3", { status: "deleted" });
    await compact(w.as(), "t", 0);
    for (const f of [w.as().paths.taskIndex("t"), logFile(w.as(), "t")]) fs.rmSync(f, { force: true });
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B"]);
    expect((await createTask(w.as(), "t", { subject: "D", description: "" })).id).toBe("4");
    expect(listTasks(w.as(), "t", { status: "deleted" }).map((t) => t.id)).toEqual(["3"]);
  });

  it("a corrupt tasks.json is moved aside and rebuilt; nothing is lost", async () => {
    const w = await setup();
    for (const s of ["A", "B"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await compact(w.as(), "t", 0);
    const idx = w.as().paths.taskIndex("t");
    fs.writeFileSync(idx, '{"nextId": 3, "tasks": {');
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B"]);
    expect((await createTask(w.as(), "t", { subject: "C", description: "" })).id).toBe("3");
    await compact(w.as(), "t", 0);
    expect(readJsonFile(idx).tasks["3"].subject).toBe("C");
    expect(fs.readdirSync(w.as().paths.tasksDir("t")).filter((n) => n.includes(".corrupt-"))).toHaveLength(1);
  });

  it("writers killed at each step leave an index that agrees with the task files", async () => {
    const w = await setup();
    const p = w.as().paths;
    const log = (line: unknown) => fs.appendFileSync(logFile(w.as(), "t"), JSON.stringify(line) + "\n");
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await updateTask(w.as(), "t", "1", { status: "in_progress", owner: "dev" });
    // An update killed after its pending line, before its rename: the file still says in_progress.
    log({ pending: "1" });
    expect(listTasks(w.as(), "t")[0]).toMatchObject({ id: "1", status: "in_progress", owner: "dev" });
    // Killed after the rename, before its row: the file wins.
    const t1 = readJsonFile(p.taskFile("t", "1"));
    fs.writeFileSync(p.taskFile("t", "1"), JSON.stringify({ ...t1, status: "pending", owner: undefined }));
    expect(listTasks(w.as(), "t")[0]).toMatchObject({ id: "1", status: "pending" });
    expect(listTasks(w.as(), "t")[0].owner).toBeUndefined();
    // ... also after a compaction carried the pending id into tasks.json.
    await compact(w.as(), "t", 0);
    expect(readJsonFile(p.taskIndex("t")).tasks["1"]).toMatchObject({ status: "pending" });
    // A creator killed after its rename, before its row: the task is shown.
    fs.writeFileSync(p.taskFile("t", "2"), JSON.stringify({ ...t1, id: "2", subject: "B", status: "pending", owner: undefined }));
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B"]);
    // A creator killed holding its reservation: that id is burnt, not reused.
    fs.writeFileSync(p.taskFile("t", "3") + ".new.tmp", "");
    expect((await claimTask(w.as("qa"), "t")).task?.id).toBe("1");
    expect((await createTask(w.as(), "t", { subject: "D", description: "" })).id).toBe("4");
    expect(listTasks(w.as(), "t").map((t) => [t.subject, t.status, t.owner])).toEqual([["A", "in_progress", "qa"], ["B", "pending", undefined], ["D", "pending", undefined]]);
    await compact(w.as(), "t", 0);
    expect(readJsonFile(p.taskIndex("t"))).toMatchObject({ nextId: 5, pending: [] });
  });

  it("a dependency edit killed after its commit point (tx.json) is seen whole by readers and rolled forward by the next writer", async () => {
    const w = await setup();
    const p = w.as().paths;
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    // As if killed after renaming task 1 but before renaming task 3: "3 blocked by 1".
    const a = { ...readJsonFile(p.taskFile("t", "1")), blocks: ["3"] };
    const c = { ...readJsonFile(p.taskFile("t", "3")), blockedBy: ["1"] };
    fs.writeFileSync(p.taskFile("t", "1"), JSON.stringify(a));
    fs.writeFileSync(p.taskFile("t", "3") + ".999.dead.tmp", JSON.stringify(c));
    fs.writeFileSync(intentFile(w.as(), "t"), JSON.stringify({ writes: [{ id: "1", tmp: "task_1.json.999.gone.tmp" }, { id: "3", tmp: "task_3.json.999.dead.tmp" }] }));
    expect(getTask(w.as(), "t", "3").blockedBy).toEqual(["1"]);
    expect(listTasks(w.as(), "t").find((t) => t.id === "3")?.blockedBy).toEqual(["1"]);
    expect((await err(updateTask(w.as(), "t", "3", { status: "in_progress" }))).code).toBe("BLOCKED");
    await updateTask(w.as(), "t", "3", { active_form: "Waiting" });
    expect(fs.existsSync(intentFile(w.as(), "t"))).toBe(false);
    expect(readJsonFile(p.taskFile("t", "3"))).toMatchObject({ blockedBy: ["1"], activeForm: "Waiting" });
    expect(getTask(w.as(), "t", "1").blocks).toEqual(["3"]);
    expect(fs.readdirSync(p.tasksDir("t")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("a snapshot that does not match its log, or a task file the index never heard of, is shown, not hidden", async () => {
    const w = await setup();
    const p = w.as().paths;
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await compact(w.as(), "t", 0);
    const stale = fs.readFileSync(p.taskIndex("t"), "utf8");
    await createTask(w.as(), "t", { subject: "B", description: "" });
    await compact(w.as(), "t", 0);
    fs.writeFileSync(p.taskIndex("t"), stale); // names a log that is gone: rebuilt from the files
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B"]);
    expect((await createTask(w.as(), "t", { subject: "C", description: "" })).id).toBe("3");
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B", "C"]);
    // An index from an older writer (no log) that lags behind the files.
    const idx = JSON.parse(stale);
    delete idx.log;
    fs.writeFileSync(p.taskIndex("t"), JSON.stringify(idx));
    fs.rmSync(logFile(w.as(), "t"));
    expect(listTasks(w.as(), "t").map((t) => t.subject)).toEqual(["A", "B", "C"]);
    expect((await createTask(w.as(), "t", { subject: "D", description: "" })).id).toBe("4");
  });
});

describe("dependencies", () => {
  it("blocks/blockedBy stay symmetric when added and removed", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "3", { add_blocked_by: ["1", "2"] });
    expect(getTask(w.as(), "t", "3").blockedBy).toEqual(["1", "2"]);
    expect(getTask(w.as(), "t", "1").blocks).toEqual(["3"]);
    expect(getTask(w.as(), "t", "2").blocks).toEqual(["3"]);
    await updateTask(w.as(), "t", "3", { remove_blocked_by: ["1"] });
    expect(getTask(w.as(), "t", "3").blockedBy).toEqual(["2"]);
    expect(getTask(w.as(), "t", "1").blocks).toEqual([]);
    const d = await createTask(w.as(), "t", { subject: "D", description: "", blocked_by: ["3"] });
    expect(d.blockedBy).toEqual(["3"]);
    expect(getTask(w.as(), "t", "3").blocks).toEqual(["4"]);
    expect(listTasks(w.as(), "t").find((t) => t.id === "3")).toMatchObject({ blocks: ["4"], blockedBy: ["2"] });
  });

  it("refuses cycles, direct and transitive, and self-blocking; nothing is written", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "2", { add_blocked_by: ["1"] });
    await updateTask(w.as(), "t", "3", { add_blocked_by: ["2"] });
    const snap = () => ["1", "2", "3"].map((id) => fs.readFileSync(w.as().paths.taskFile("t", id), "utf8"));
    const before = snap();
    const direct = await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["2"] }));
    expect(direct.code).toBe("CONFLICT");
    expect(direct.message).toMatch(/cycle/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["3"] }))).message).toMatch(/cycle/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["1"] }))).message).toMatch(/^add_blocked_by: .*itself/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: "2" as unknown as string[] }))).message).toMatch(/^add_blocked_by: /);
    expect(snap()).toEqual(before);
  });

  it("cannot start or complete while a blocker is unfinished; the error names the blockers", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "Schema", description: "", owner: "dev" });
    await createTask(w.as(), "t", { subject: "Migrate", description: "" });
    await createTask(w.as(), "t", { subject: "Deploy", description: "", blocked_by: ["1", "2"] });
    for (const status of ["in_progress", "completed"]) {
      const e = await err(updateTask(w.as(), "t", "3", { status }));
      expect(e.code).toBe("BLOCKED");
      expect(e.message).toContain('#1 "Schema" (pending, dev)');
      expect(e.message).toContain('#2 "Migrate"');
      expect(e.details?.blockers).toEqual(["1", "2"]);
    }
    expect((await err(createTask(w.as(), "t", { subject: "X", description: "", status: "in_progress", blocked_by: ["1"] }))).code).toBe("BLOCKED");
    await updateTask(w.as(), "t", "2", { status: "deleted" }); // a deleted blocker no longer blocks
    await updateTask(w.as(), "t", "1", { status: "completed" });
    expect((await updateTask(w.as(), "t", "3", { status: "in_progress" })).task.status).toBe("in_progress");
  });

  it("completing a blocker reports the tasks it unblocked and messages their owners", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "Base", description: "", owner: "dev" });
    await createTask(w.as(), "t", { subject: "Other", description: "" });
    await createTask(w.as(), "t", { subject: "Top", description: "", owner: "qa", blocked_by: ["1"] });
    await createTask(w.as(), "t", { subject: "Both", description: "", owner: "qa", blocked_by: ["1", "2"] });
    await inbox(w, "qa");
    const r = await updateTask(w.as("dev"), "t", "1", { status: "completed" });
    expect(r.unblocked.map((u) => u.id)).toEqual(["3"]);
    const qa = await inbox(w, "qa");
    expect(qa).toHaveLength(1);
    expect(qa[0]).toMatchObject({ kind: "task_unblocked", from: "dev" });
    expect(qa[0].content).toContain("#3");
    expect(readEvents(w.as(), "t").some((e) => e.kind === "task.unblocked" && (e.data.ids as string[]).join() === "3")).toBe(true);
  });
});

describe("approved plan on a blocked task", () => {
  it("when its last blocker completes, the owner is told it can start now, and the event log records it", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "Schema", description: "" });
    await createTask(w.as(), "t", { subject: "Migrate", description: "" });
    await createTask(w.as(), "t", { subject: "Deploy", description: "", owner: "qa", blocked_by: ["1", "2"] });
    await submitPlan(w.as("qa"), "t", "3", "1. deploy");
    const { task, note } = await evaluatePlan(w.as(), "t", "3", "approve");
    expect(task.status).toBe("pending");
    expect(note).toMatch(/still blocked by #1, #2/);
    await inbox(w, "qa");
    // The first blocker done: still blocked, nothing to tell.
    expect((await updateTask(w.as("dev"), "t", "1", { status: "completed" })).unblocked).toEqual([]);
    expect(await inbox(w, "qa")).toEqual([]);
    const r = await updateTask(w.as("dev"), "t", "2", { status: "completed" });
    expect(r.unblocked.map((u) => u.id)).toEqual(["3"]);
    expect(r.ready).toEqual(["3"]);
    const qa = await inbox(w, "qa");
    expect(qa).toHaveLength(1);
    expect(qa[0]).toMatchObject({ kind: "task_ready", from: "dev", summary: "Task #3 can start now" });
    expect(qa[0].content).toMatch(/^Task #3 "Deploy" can start now: its plan is approved and its last blocker is done \(#2 "Migrate" was completed by dev\)/);
    const ev = readEvents(w.as(), "t").filter((e) => e.kind === "task.unblocked");
    expect(ev.at(-1)?.data).toMatchObject({ by: "2", ids: ["3"], ready: ["3"] });
    // The owner starts it as told; plan mode sees an approved, in-progress task.
    expect((await updateTask(w.as("qa"), "t", "3", { status: "in_progress" })).task).toMatchObject({ status: "in_progress", planStatus: "approved" });
  });

  it("a blocked task without an approved plan gets the plain unblocked message", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "Base", description: "" });
    await createTask(w.as(), "t", { subject: "Top", description: "", owner: "qa", blocked_by: ["1"] });
    await submitPlan(w.as("qa"), "t", "2", "a plan");
    await inbox(w, "qa");
    const r = await updateTask(w.as("dev"), "t", "1", { status: "completed" });
    expect(r.ready).toEqual([]);
    expect((await inbox(w, "qa")).map((m) => m.kind)).toEqual(["task_unblocked"]);
  });
});

describe("claims", () => {
  it("task_claim takes the oldest pending, unowned, unblocked task; then says nothing to claim", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "qa" });
    await createTask(w.as(), "t", { subject: "B", description: "" });
    await createTask(w.as(), "t", { subject: "C", description: "", blocked_by: ["2"] });
    await createTask(w.as(), "t", { subject: "D", description: "" });
    const a = await claimTask(w.as("dev"), "t");
    expect(a.task).toMatchObject({ id: "2", owner: "dev", status: "in_progress" });
    expect((await claimTask(w.as("dev"), "t")).task?.id).toBe("4");
    const none = await claimTask(w.as("dev"), "t");
    expect(none.task).toBeUndefined();
    expect(none.reason).toMatch(/owned or blocked/);
    expect((await err(claimTask(w.as("dev"), "t", "1"))).message).toMatch(/already claimed by qa/);
    expect((await err(claimTask(w.as("qa"), "t", "3"))).code).toBe("BLOCKED");
    expect((await claimTask(w.as("qa"), "t", "1")).task).toMatchObject({ owner: "qa", status: "in_progress" });
    expect(readEvents(w.as(), "t").filter((e) => e.kind === "task.claimed").map((e) => e.data.id)).toEqual(["2", "4", "1"]);
  });

  it("task_release: back to pending, owner cleared, the lead is told; only owner or lead may release", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await claimTask(w.as("dev"), "t");
    expect((await err(releaseTask(w.as("qa"), "t", "1"))).code).toBe("FORBIDDEN");
    const t = await releaseTask(w.as("dev"), "t", "1", "need DB access");
    expect(t.status).toBe("pending");
    expect(t.owner).toBeUndefined();
    const lead = await inbox(w, "team-lead");
    expect(lead.at(-1)).toMatchObject({ kind: "task_released" });
    expect(lead.at(-1)!.content).toContain("need DB access");
    expect((await err(releaseTask(w.as("dev"), "t", "1"))).code).toBe("CONFLICT");
  });

  it("a late owner cannot update a task someone else now holds; the lead can reassign", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await claimTask(w.as("dev"), "t");
    await releaseTask(w.as(), "t", "1", "dev looked dead");
    await claimTask(w.as("qa"), "t", "1");
    const e = await err(updateTask(w.as("dev"), "t", "1", { status: "completed" }));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.message).toMatch(/owned by qa, not you \(dev\)/);
    expect(getTask(w.as(), "t", "1")).toMatchObject({ owner: "qa", status: "in_progress" });
    const r = await updateTask(w.as(), "t", "1", { owner: "dev" });
    expect(r.task).toMatchObject({ owner: "dev", status: "in_progress" });
    expect((await updateTask(w.as("dev"), "t", "1", { status: "completed" })).task.status).toBe("completed");
  });
});
