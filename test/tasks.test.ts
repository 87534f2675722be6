import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { claimTask, createTask, evaluatePlan, getTask, listTasks, releaseTask, submitPlan, updateTask } from "../src/domain/tasks.js";
import { readInbox } from "../src/domain/messages.js";
import { readEvents } from "../src/domain/events.js";
import { HEARTBEAT_DEAD_MS, recoverAbandoned, writePresence } from "../src/domain/presence.js";
import { TeamsError } from "../src/errors.js";
import { assertDataFilesParse, cleanupTemp, cli, readJsonFile, teamWith, world, type World } from "./helpers/fixtures.js";

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
    await w.flush();
    const onDisk = readJsonFile(w.layout.taskFile("t", "1"));
    for (const k of ["id", "subject", "description", "status", "blocks", "blockedBy", "createdAt", "updatedAt"]) expect(onDisk).toHaveProperty(k);
    expect(onDisk).toMatchObject({ id: "1", subject: "A", description: "do a", status: "pending", blocks: [], blockedBy: [] });
    expect((await getTask(w.as(), "t", "2")).createdBy).toBe("dev");
    expect((await listTasks(w.as(), "t")).map((t) => t.id)).toEqual(["1", "2"]);
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
    expect((await err(getTask(w.as(), "t", "5"))).message).toMatch(/^task_id: task "5" does not exist/);
    expect((await err(listTasks(w.as(), "t", { status: "nope" }))).message).toMatch(/^status: /);
    expect(await listTasks(w.as(), "t")).toEqual([]);
    // A refused create uses up no id.
    expect((await createTask(w.as(), "t", { subject: "first", description: "" })).id).toBe("1");
  });

  it("filters by status and owner (owner \"\" = unowned)", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "", owner: "dev" });
    await createTask(w.as(), "t", { subject: "B", description: "" });
    await createTask(w.as(), "t", { subject: "C", description: "", status: "in_progress", owner: "qa" });
    expect((await listTasks(w.as(), "t", { owner: "dev" })).map((t) => t.id)).toEqual(["1"]);
    expect((await listTasks(w.as(), "t", { owner: "" })).map((t) => t.id)).toEqual(["2"]);
    expect((await listTasks(w.as(), "t", { status: "in_progress" })).map((t) => t.id)).toEqual(["3"]);
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
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ owner: "qa", status: "in_progress", subject: "A2", description: "desc", activeForm: "Working" });
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
    const before = await getTask(w.as(), "t", "1");
    expect((await err(updateTask(w.as(), "t", "1", { status: "done", subject: "changed" }))).message).toMatch(/^status: /);
    expect((await err(updateTask(w.as(), "t", "7", { subject: "x" }))).message).toMatch(/^task_id: task "7" does not exist/);
    expect((await err(updateTask(w.as(), "t", "abc", { subject: "x" }))).message).toMatch(/^task_id: /);
    expect(await getTask(w.as(), "t", "1")).toEqual(before);
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
    expect((await getTask(w.as(), "t", "1")).status).toBe("planning");
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
    expect((await listTasks(w.as(), "t")).map((t) => t.id)).toEqual(["1"]);
    expect((await listTasks(w.as(), "t", { status: "deleted" })).map((t) => t.id)).toEqual(["2"]);
    expect((await getTask(w.as(), "t", "2")).status).toBe("deleted");
    expect((await err(updateTask(w.as(), "t", "2", { status: "pending" }))).message).toMatch(/^task_id: task 2 is deleted/);
    expect((await createTask(w.as(), "t", { subject: "C", description: "" })).id).toBe("3");
  });

  it("ids are never reused and nothing is lost when the derived files are lost: the log rebuilds them in the next process", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "3", { status: "deleted" });
    await w.flush();
    fs.rmSync(w.layout.tasksDir("t"), { recursive: true });
    fs.rmSync(w.layout.materialized("t"));
    expect((await listTasks(w.as(), "t")).map((t) => t.subject)).toEqual(["A", "B"]);
    expect((await listTasks(w.as(), "t", { status: "deleted" })).map((t) => t.id)).toEqual(["3"]);
    // Any clanker-teams process that opens the team writes what lags (here a CLI, before it exits).
    expect((await cli(["status", "t"], { dir: w.dir })).exitCode).toBe(0);
    expect(readJsonFile(w.layout.taskIndex("t"))).toMatchObject({ nextId: 4, tasks: { 1: { subject: "A" }, 2: { subject: "B" }, 3: { status: "deleted" } } });
    for (const id of ["1", "2", "3"]) expect(readJsonFile(w.layout.taskFile("t", id)).id).toBe(id);
    expect((await createTask(w.as(), "t", { subject: "D", description: "" })).id).toBe("4");
  });

  it("a corrupt tasks.json or task file is never what a read sees (the log is): both are rewritten whole by the next change", async () => {
    const w = await setup();
    for (const s of ["A", "B"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await w.flush();
    fs.writeFileSync(w.layout.taskIndex("t"), '{"nextId": 3, "tasks": {');
    fs.writeFileSync(w.layout.taskFile("t", "2"), '{"id": "2", "subj');
    expect((await listTasks(w.as(), "t")).map((t) => t.subject)).toEqual(["A", "B"]);
    expect((await getTask(w.as(), "t", "2")).subject).toBe("B");
    await updateTask(w.as(), "t", "2", { active_form: "Fixing" });
    expect((await createTask(w.as(), "t", { subject: "C", description: "" })).id).toBe("3");
    await w.flush();
    expect(readJsonFile(w.layout.taskIndex("t")).tasks["3"].subject).toBe("C");
    expect(readJsonFile(w.layout.taskFile("t", "2"))).toMatchObject({ subject: "B", activeForm: "Fixing" });
    assertDataFilesParse(w.dir);
  });
});

describe("dependencies", () => {
  it("blocks/blockedBy stay symmetric when added and removed", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "3", { add_blocked_by: ["1", "2"] });
    expect((await getTask(w.as(), "t", "3")).blockedBy).toEqual(["1", "2"]);
    expect((await getTask(w.as(), "t", "1")).blocks).toEqual(["3"]);
    expect((await getTask(w.as(), "t", "2")).blocks).toEqual(["3"]);
    await updateTask(w.as(), "t", "3", { remove_blocked_by: ["1"] });
    expect((await getTask(w.as(), "t", "3")).blockedBy).toEqual(["2"]);
    expect((await getTask(w.as(), "t", "1")).blocks).toEqual([]);
    const d = await createTask(w.as(), "t", { subject: "D", description: "", blocked_by: ["3"] });
    expect(d.blockedBy).toEqual(["3"]);
    expect((await getTask(w.as(), "t", "3")).blocks).toEqual(["4"]);
    expect((await listTasks(w.as(), "t")).find((t) => t.id === "3")).toMatchObject({ blocks: ["4"], blockedBy: ["2"] });
  });

  it("refuses cycles, direct and transitive, and self-blocking; nothing is written", async () => {
    const w = await setup();
    for (const s of ["A", "B", "C"]) await createTask(w.as(), "t", { subject: s, description: "" });
    await updateTask(w.as(), "t", "2", { add_blocked_by: ["1"] });
    await updateTask(w.as(), "t", "3", { add_blocked_by: ["2"] });
    const snap = () => Promise.all(["1", "2", "3"].map((id) => getTask(w.as(), "t", id)));
    const before = await snap();
    const events = (await readEvents(w.as(), "t")).length;
    const direct = await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["2"] }));
    expect(direct.code).toBe("CONFLICT");
    expect(direct.message).toMatch(/cycle/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["3"] }))).message).toMatch(/cycle/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: ["1"] }))).message).toMatch(/^add_blocked_by: .*itself/);
    expect((await err(updateTask(w.as(), "t", "1", { add_blocked_by: "2" as unknown as string[] }))).message).toMatch(/^add_blocked_by: /);
    expect(await snap()).toEqual(before);
    expect(await readEvents(w.as(), "t")).toHaveLength(events);
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
    expect((await readEvents(w.as(), "t")).some((e) => e.kind === "task.unblocked" && (e.data.ids as string[]).join() === "3")).toBe(true);
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
    const ev = (await readEvents(w.as(), "t")).filter((e) => e.kind === "task.unblocked");
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
    expect((await readEvents(w.as(), "t")).filter((e) => e.kind === "task.claimed").map((e) => e.data.id)).toEqual(["2", "4", "1"]);
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
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ owner: "qa", status: "in_progress" });
    const r = await updateTask(w.as(), "t", "1", { owner: "dev" });
    expect(r.task).toMatchObject({ owner: "dev", status: "in_progress" });
    expect((await updateTask(w.as("dev"), "t", "1", { status: "completed" })).task.status).toBe("completed");
  });
});

describe("leases and fencing", () => {
  // Sessions are host processes: dev in session A (the old process, cut off or killed), dev again in session B.
  const devA = (w: World) => w.as("dev", { session: "session-A" });
  const devB = (w: World) => w.as("dev", { session: "session-B" });
  /** dev (session A) holds task 1 until the lease sweep takes it: its heartbeat, stamped then, is older than the lease. */
  async function recovered(w: World): Promise<void> {
    await createTask(w.as(), "t", { subject: "A", description: "" });
    expect((await claimTask(devA(w), "t")).task).toMatchObject({ id: "1", owner: "dev", epoch: 1, claimSession: "session-A" });
    await writePresence(devA(w), "t", "dev", { host: "cut-off-host", state: "busy" });
    w.clock.advance(HEARTBEAT_DEAD_MS + 1000);
    const rec = await recoverAbandoned(w.as(), "t");
    expect(rec.map((r) => [r.owner, r.tasks.map((t) => t.id)])).toEqual([["dev", ["1"]]]);
  }

  it("each claim is a new lease epoch, logged with task.claimed", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    const epochs: (number | undefined)[] = [];
    epochs.push((await claimTask(w.as("dev"), "t")).task?.epoch);
    await releaseTask(w.as("dev"), "t", "1");
    epochs.push((await claimTask(w.as("qa"), "t", "1")).task?.epoch);
    await releaseTask(w.as(), "t", "1", "reassigning");
    epochs.push((await claimTask(devB(w), "t")).task?.epoch);
    expect(epochs).toEqual([1, 2, 3]);
    // Claiming what one already holds is no new lease.
    expect((await claimTask(devB(w), "t", "1")).task?.epoch).toBe(3);
    expect((await readEvents(w.as(), "t")).filter((e) => e.kind === "task.claimed").map((e) => [e.data.owner, e.data.epoch])).toEqual([["dev", 1], ["qa", 2], ["dev", 3]]);
    expect((await getTask(w.as(), "t", "1")).epoch).toBe(3);
  });

  it("a session whose claim the sweep took back cannot update, complete or release the task; the error names the new owner", async () => {
    const w = await setup();
    await recovered(w);
    const t = await getTask(w.as(), "t", "1");
    expect(t).toMatchObject({ status: "pending", epoch: 1, fenced: [{ agent: "dev", session: "session-A", reason: expect.stringMatching(/^dev is dead \(no heartbeat on cut-off-host for 31 s\)/) }] });
    expect(t.owner).toBeUndefined();
    expect(t.claimSession).toBeUndefined();
    // Before anyone takes it: pending again, say so.
    expect((await err(updateTask(devA(w), "t", "1", { active_form: "still on it" }))).message).toMatch(/^task 1: your claim on it was taken away at .* \(dev is dead .*\); it is pending again/);
    expect((await claimTask(w.as("qa"), "t")).task).toMatchObject({ id: "1", owner: "qa", epoch: 2 });
    const before = await getTask(w.as(), "t", "1");
    const events = (await readEvents(w.as(), "t")).length;
    for (const attempt of [
      () => updateTask(devA(w), "t", "1", { status: "completed" }),
      () => updateTask(devA(w), "t", "1", { active_form: "still on it" }),
      () => updateTask(devA(w), "t", "1", { add_blocked_by: [] , remove_blocked_by: ["1"] }),
      () => releaseTask(devA(w), "t", "1", "giving up"),
      () => submitPlan(devA(w), "t", "1", "a plan"),
    ]) {
      const e = await err(attempt());
      expect(e.code).toBe("FORBIDDEN");
      expect(e.message).toMatch(/^task 1: your claim on it was taken away at .*; it is now owned by qa\. Ask team-lead for other work or task_claim another task\.$/);
      expect(e.details).toMatchObject({ taskId: "1", owner: "qa", fenced: true });
    }
    expect(await getTask(w.as(), "t", "1")).toEqual(before);
    expect(await readEvents(w.as(), "t")).toHaveLength(events);
    // The new owner works on.
    expect((await updateTask(w.as("qa"), "t", "1", { status: "completed" })).task).toMatchObject({ status: "completed", owner: "qa" });
  });

  it("the same agent name in a new session can claim it again; the old session stays fenced off it", async () => {
    const w = await setup();
    await recovered(w);
    expect((await claimTask(devB(w), "t")).task).toMatchObject({ id: "1", owner: "dev", epoch: 2, claimSession: "session-B" });
    // Same name, but the old process: still refused, naming the owner.
    const e = await err(updateTask(devA(w), "t", "1", { status: "completed" }));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.message).toMatch(/it is now owned by dev\./);
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ status: "in_progress", owner: "dev", claimSession: "session-B" });
    expect((await updateTask(devB(w), "t", "1", { status: "completed" })).task.status).toBe("completed");
  });

  it("a fenced session cannot take the task back from the session that holds it now", async () => {
    const w = await setup();
    await recovered(w);
    await claimTask(devB(w), "t");
    const e = await err(claimTask(devA(w), "t", "1"));
    expect(e.code).toBe("CONFLICT");
    expect(e.message).toMatch(/^task 1 is already claimed by dev in another session \(your claim on it was taken away\)/);
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ owner: "dev", epoch: 2, claimSession: "session-B" });
    expect((await updateTask(devB(w), "t", "1", { active_form: "mine" })).task.activeForm).toBe("mine");
  });

  it("a fenced session may claim the task again while it is pending: a new epoch, and the fence is lifted", async () => {
    const w = await setup();
    await recovered(w);
    expect((await claimTask(devA(w), "t", "1")).task).toMatchObject({ owner: "dev", epoch: 2, claimSession: "session-A" });
    expect((await getTask(w.as(), "t", "1")).fenced).toBeUndefined();
    expect((await updateTask(devA(w), "t", "1", { status: "completed" })).task.status).toBe("completed");
  });

  it("the lead taking a task from a live owner fences that owner's session; callers without a session (the CLI) are never fenced", async () => {
    const w = await setup();
    await createTask(w.as(), "t", { subject: "A", description: "" });
    await claimTask(devA(w), "t");
    await updateTask(w.as(), "t", "1", { owner: "qa" });
    expect((await getTask(w.as(), "t", "1")).fenced?.map((f) => [f.agent, f.session, f.reason])).toEqual([["dev", "session-A", "reassigned by team-lead"]]);
    expect((await err(updateTask(devA(w), "t", "1", { active_form: "x" }))).message).toMatch(/taken away .*reassigned by team-lead.*now owned by qa/);
    // The lead gives it back to dev by name: dev at the CLI (no session) may work on it.
    await updateTask(w.as(), "t", "1", { owner: "dev" });
    expect((await updateTask(w.as("dev"), "t", "1", { status: "completed" })).task.status).toBe("completed");
  });
});
