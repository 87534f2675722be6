/**
 * Milestones on both stores: what blocks a checkpoint (tasks and their
 * members, reservations and their holders, through dependencies), the
 * announcement when one becomes safe (once, to the lead and who asked, in
 * the log), and that a quiet agent never makes one pass.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { askFrontier, createMilestone, frontierOf } from "../../src/domain/milestones.js";
import { releaseFiles, reserveFiles } from "../../src/domain/reservations.js";
import { claimTask, createTask, updateTask } from "../../src/domain/tasks.js";
import { recoverAbandoned, writePresence } from "../../src/domain/presence.js";
import { readInbox } from "../../src/domain/messages.js";
import { readEvents } from "../../src/domain/events.js";
import { cleanupTemp } from "../helpers/fixtures.js";
import { KINDS, settle } from "../contract/stores.js";
import { LEASE_MS, team, type Team } from "./helpers.js";

afterAll(async () => { await settle(); cleanupTemp(); });

describe.each(KINDS)("milestones on the %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });
  const task = async (subject: string) => (await createTask(T.as(), "t", { subject, description: "" })).id;
  const safeMsgs = async (who: string) => (await readInbox(T.as(who), "t")).messages.filter((m) => m.kind === "checkpoint_safe").map((m) => m.summary);

  it("names what blocks each checkpoint, through its dependencies; announces it once when it becomes safe", async () => {
    T = await team(kind, "t", ["alice", "bob"]);
    const [a, b, c] = [await task("api"), await task("ui"), await task("docs")];
    const m = await createMilestone(T.as(), "t", { name: "v1", checkpoints: [{ name: "backend", tasks: [a] }, { name: "frontend", tasks: [b], paths: ["web/**"] }, { name: "docs", tasks: [c], depends_on: [] }] }, T.where);
    expect(m.milestone.checkpoints.map((x) => [x.name, x.dependsOn])).toEqual([["backend", []], ["frontend", ["backend"]], ["docs", []]]);
    await claimTask(T.as("alice"), "t", a);
    await reserveFiles(T.as("bob"), "t", { paths: ["web/src/cart.ts"], reason: "cart" }, T.where);
    let f = await frontierOf(T.as(), "t", "v1");
    expect(f.frontier).toBeNull();
    expect(f.checkpoints[0]!.blockers).toEqual([{ kind: "task", id: a, subject: "api", status: "in_progress", owner: "alice" }]);
    expect(f.checkpoints[1]!.blockers).toEqual([
      { kind: "task", id: b, subject: "ui", status: "pending" },
      { kind: "reservation", holder: "bob", path: "web/src/cart.ts", exclusive: true, reason: "cart", since: expect.any(String) },
      { kind: "task", id: a, subject: "api", status: "in_progress", owner: "alice", via: "backend" },
    ]);
    // bob asks about "frontend": he will be told
    const asked = await askFrontier(T.as("bob"), "t", "v1", "2");
    expect(asked).toMatchObject({ watching: true, checkpoint: { name: "frontend", safe: false } });
    await updateTask(T.as("alice"), "t", a, { status: "completed" });
    expect(await safeMsgs("team-lead")).toEqual([`Checkpoint "backend" of v1 is safe`]);
    await updateTask(T.as(), "t", b, { status: "completed" });
    f = await frontierOf(T.as(), "t", "v1");
    expect(f.frontier).toBe("backend");
    expect(f.checkpoints[1]!.blockers.map((x) => x.kind)).toEqual(["reservation"]); // bob still holds web/…
    expect(await safeMsgs("bob")).toEqual([]);
    await releaseFiles(T.as("bob"), "t", {}, T.where);
    expect(await safeMsgs("bob")).toEqual([`Checkpoint "frontend" of v1 is safe`]);
    expect(await safeMsgs("team-lead")).toEqual([`Checkpoint "frontend" of v1 is safe`]);
    f = await frontierOf(T.as(), "t", "v1");
    expect(f.frontier).toBe("frontend");
    // announced once each, whoever checks again
    await recoverAbandoned(T.as(), "t");
    await askFrontier(T.as("alice"), "t", "v1", "frontend");
    const safe = (await readEvents(T.as(), "t")).filter((e) => e.kind === "milestone.safe").map((e) => e.data);
    expect(safe).toEqual([{ milestone: "v1", checkpoint: "backend", told: ["team-lead"] }, { milestone: "v1", checkpoint: "frontend", told: ["team-lead", "bob"] }]);
    // reopened work makes it unsafe again (logged); completing it again announces it again
    await updateTask(T.as(), "t", b, { status: "in_progress" });
    expect((await readEvents(T.as(), "t")).filter((e) => e.kind === "milestone.unsafe").map((e) => e.data.checkpoint)).toEqual(["frontend"]);
    await updateTask(T.as(), "t", b, { status: "completed" });
    expect(await safeMsgs("team-lead")).toEqual([`Checkpoint "frontend" of v1 is safe`]);
  });

  it("without paths, a checkpoint is blocked by any reservation of a member who owns one of its tasks", async () => {
    T = await team(kind, "t", ["alice", "bob"]);
    const a = await task("api");
    await createMilestone(T.as(), "t", { name: "m", checkpoints: [{ name: "one", tasks: [a] }] }, T.where);
    await claimTask(T.as("alice"), "t", a);
    await reserveFiles(T.as("alice"), "t", { paths: ["lib/**"] }, T.where);
    await reserveFiles(T.as("bob"), "t", { paths: ["other/**"] }, T.where);
    await updateTask(T.as("alice"), "t", a, { status: "completed" });
    const f = await frontierOf(T.as(), "t", "m");
    expect(f.checkpoints[0]!.blockers).toEqual([{ kind: "reservation", holder: "alice", path: "lib/**", exclusive: true, since: expect.any(String) }]);
    await releaseFiles(T.as("alice"), "t", {}, T.where);
    expect((await frontierOf(T.as(), "t", "m")).checkpoints[0]!.safe).toBe(true);
  });

  it("never passes because an agent went quiet: a stalled owner still blocks, a dead one's task goes back to pending", async () => {
    T = await team(kind, "t", ["alice"]);
    const a = await task("api");
    await createMilestone(T.as(), "t", { name: "m", checkpoints: [{ name: "one", tasks: [a] }] }, T.where);
    await writePresence(T.as("alice"), "t", "alice", { state: "busy", startedAt: new Date(T.clock.now).toISOString() });
    await claimTask(T.as("alice"), "t", a);
    T.clock.advance(LEASE_MS - 1000); // quiet: stalled, not dead
    await recoverAbandoned(T.as(), "t");
    expect((await frontierOf(T.as(), "t", "m")).checkpoints[0]!.blockers).toEqual([{ kind: "task", id: a, subject: "api", status: "in_progress", owner: "alice" }]);
    T.clock.advance(10 * LEASE_MS); // dead: recovered, still not done
    await recoverAbandoned(T.as(), "t");
    expect((await frontierOf(T.as(), "t", "m")).checkpoints[0]!.blockers).toEqual([{ kind: "task", id: a, subject: "api", status: "pending" }]);
    expect(await safeMsgs("team-lead")).toEqual([]);
  });

  it("bad input names the field", async () => {
    T = await team(kind, "t", []);
    const a = await task("x");
    const mk = (checkpoints: unknown) => createMilestone(T.as(), "t", { name: "m", checkpoints }, T.where);
    await expect(mk([])).rejects.toThrow(/^checkpoints: must be a list of checkpoints/);
    await expect(mk([{ name: "a", tasks: ["99"] }])).rejects.toThrow(/^checkpoints\[0\]\.tasks\[0\]: task "99" does not exist/);
    await expect(mk([{ name: "a", tasks: [a] }, { name: "b", tasks: [a], depends_on: ["c"] }])).rejects.toThrow(/^checkpoints\[1\]\.depends_on\[0\]: "c" is not an earlier checkpoint; depend on checkpoints listed before this one \(a\)/);
    await expect(mk([{ name: "a", tasks: [a] }, { name: "a", tasks: [a] }])).rejects.toThrow(/^checkpoints\[1\]\.name: "a" is used twice/);
    await expect(mk([{ name: "a", tasks: [a], paths: ["../x"] }])).rejects.toThrow(/^checkpoints\[0\]\.paths\[0\]: .* is outside the repository/);
    await expect(mk([{ name: "a", task: [a] }])).rejects.toThrow(/^checkpoints\[0\]\.task: unknown key/);
    await expect(frontierOf(T.as(), "t", "nope")).rejects.toThrow(/^name: milestone "nope" does not exist/);
    await mk([{ name: "a", tasks: [a] }]);
    await expect(askFrontier(T.as(), "t", "m", "7")).rejects.toThrow(/^checkpoint: "7" is not a checkpoint of milestone "m"; give a name or number: 1 a/);
  });
});
