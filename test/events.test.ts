import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { appendEvent, readEvents } from "../src/events.js";
import { createTask, updateTask } from "../src/tasks.js";
import { sendMessage } from "../src/messages.js";
import { cleanupTemp, teamWith, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

describe("events", () => {
  it("seq is strictly increasing, one line per append, with time, actor, kind and data", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as("team-lead");
    await Promise.all(Array.from({ length: 30 }, (_, i) => appendEvent(ctx, "t", "test.ping", { i })));
    const lines = fs.readFileSync(ctx.paths.events("t"), "utf8").trimEnd().split("\n");
    const evs = lines.map((l) => JSON.parse(l));
    expect(evs.map((e) => e.seq)).toEqual([...Array(evs.length).keys()].map((i) => i + 1));
    const pings = evs.filter((e) => e.kind === "test.ping");
    expect(pings).toHaveLength(30);
    expect(new Set(pings.map((e) => e.data.i)).size).toBe(30);
    for (const e of evs) {
      expect(e.actor).toBe("team-lead");
      expect(e.time).toBe(new Date(w.clock.now).toISOString());
    }
  });

  it("every state change appends exactly one line of its kind", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const lead = w.as();
    const n0 = readEvents(lead, "t").length; // team.created + member.added
    expect(readEvents(lead, "t").map((e) => e.kind)).toEqual(["team.created", "member.added"]);
    await createTask(lead, "t", { subject: "a", description: "" });
    await updateTask(lead, "t", "1", { subject: "b" });
    await sendMessage(lead, "t", { recipient: "dev", content: "hi", summary: "hi" });
    const kinds = readEvents(lead, "t").slice(n0).map((e) => e.kind);
    expect(kinds).toEqual(["task.created", "task.updated", "message.sent"]);
    expect(readEvents(lead, "t", n0 + 1).map((e) => e.kind)).toEqual(["task.updated", "message.sent"]);
  });

  it("cuts off a torn last line (a drainer killed mid-write) and continues the sequence without reusing a seq", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const file = ctx.paths.events("t");
    await appendEvent(ctx, "t", "a", {});
    const before = fs.readFileSync(file, "utf8");
    fs.appendFileSync(file, '{"seq": 99, "time": "x", "act');
    await appendEvent(ctx, "t", "b", {});
    const text = fs.readFileSync(file, "utf8");
    expect(text.startsWith(before)).toBe(true);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((e) => e.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.at(-1)).toMatchObject({ kind: "b", seq: lines.length });
  });

  it("a log replaced behind the cache's back (team deleted and re-created elsewhere) never makes seq go backwards", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const file = ctx.paths.events("t");
    await appendEvent(ctx, "t", "a", {});
    const size = fs.statSync(file).size;
    // Another process re-created the team: a new log of exactly the cached size whose last seq is higher.
    const bare = JSON.stringify({ seq: 500, time: "x", actor: "y", kind: "z", data: { p: "" } });
    const line = JSON.stringify({ seq: 500, time: "x", actor: "y", kind: "z", data: { p: "p".repeat(size - 1 - Buffer.byteLength(bare)) } });
    fs.unlinkSync(file);
    fs.writeFileSync(file, line + "\n");
    expect(fs.statSync(file).size).toBe(size);
    fs.utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    await appendEvent(ctx, "t", "b", {});
    expect(readEvents(ctx, "t").at(-1)).toMatchObject({ kind: "b", seq: 501 });
  });
});

describe("events: flat combining leftovers", () => {
  const dir = (w: World) => path.dirname(w.as().paths.events("t"));
  const pendingLine = (id: string, kind: string) => "\n" + JSON.stringify({ id, time: "2026-01-01T00:00:00.000Z", actor: "x", kind, data: { id } }) + "\n";

  it("a batch left by a drainer killed before logging it is logged first, in order, by the next append", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const n0 = readEvents(ctx, "t").length;
    // Killed after renaming the pending file aside (one writer's line even arrived after the rename), before closing it.
    fs.writeFileSync(path.join(dir(w), "events.taking.jsonl"), pendingLine("L1", "left.1") + pendingLine("L2", "left.2"));
    fs.writeFileSync(path.join(dir(w), "events.pending.jsonl"), pendingLine("P1", "pend.1"));
    await appendEvent(ctx, "t", "mine", {});
    const evs = readEvents(ctx, "t");
    expect(evs.slice(n0).map((e) => e.kind)).toEqual(["left.1", "left.2", "pend.1", "mine"]);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
    expect(fs.readdirSync(dir(w)).filter((n) => n.startsWith("events.") && n !== "events.jsonl")).toEqual([]);
  });

  it("a batch a killed drainer had already logged (fully or torn) is not logged twice", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const file = ctx.paths.events("t");
    const n0 = readEvents(ctx, "t").length;
    // The drainer closed the batch, logged L1 completely and L2 torn, then died before removing the batch.
    const closed = pendingLine("L1", "left.1") + pendingLine("L2", "left.2") + pendingLine("L3", "left.3") + '\n{"closed":true}\n' + pendingLine("LATE", "too.late");
    fs.writeFileSync(path.join(dir(w), "events.taking.jsonl"), closed);
    fs.appendFileSync(file, JSON.stringify({ seq: n0 + 1, time: "t", actor: "x", kind: "left.1", data: {}, id: "L1" }) + "\n" + '{"seq":' + (n0 + 2) + ',"time":"t","act');
    await appendEvent(ctx, "t", "mine", {});
    const evs = readEvents(ctx, "t");
    // Lines after the closing marker were never the drainer's: their writer saw the marker and appended again.
    expect(evs.slice(n0).map((e) => e.kind)).toEqual(["left.1", "left.2", "left.3", "mine"]);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
    for (const l of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
  });

  it("a torn line in the pending file (a writer killed mid-write) is skipped; the lines around it are logged", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const n0 = readEvents(ctx, "t").length;
    fs.writeFileSync(path.join(dir(w), "events.pending.jsonl"), pendingLine("A", "a") + '\n{"id":"B","time":"2026' + pendingLine("C", "c"));
    await appendEvent(ctx, "t", "mine", {});
    expect(readEvents(ctx, "t").slice(n0).map((e) => e.kind)).toEqual(["a", "c", "mine"]);
  });

  it("with the lock free an append goes straight to the log (no pending file); with it busy, through the pending file", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    await appendEvent(ctx, "t", "direct", {});
    expect(fs.existsSync(path.join(dir(w), "events.pending.jsonl"))).toBe(false);
    // Another process holds the log's lock: the event waits in the pending file until the lock is free again.
    const lockDir = ctx.paths.events("t") + ".lock";
    fs.mkdirSync(lockDir);
    const p = appendEvent(ctx, "t", "queued", {});
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.readFileSync(path.join(dir(w), "events.pending.jsonl"), "utf8")).toContain('"kind":"queued"');
    expect(readEvents(ctx, "t").at(-1)?.kind).toBe("direct");
    fs.rmdirSync(lockDir);
    await p;
    expect(readEvents(ctx, "t").slice(-2).map((e) => e.kind)).toEqual(["direct", "queued"]);
  });

  it("with the lock busy, appends queue and return at once; whoever takes the lock next numbers them, in order", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const pending = path.join(dir(w), "events.pending.jsonl");
    const lockDir = ctx.paths.events("t") + ".lock";
    fs.mkdirSync(lockDir); // another process holds the log's lock
    await appendEvent(ctx, "t", "first", {});
    await appendEvent(ctx, "t", "second", {});
    expect(fs.readFileSync(pending, "utf8")).toMatch(/"kind":"first"[\s\S]*"kind":"second"/);
    expect(readEvents(ctx, "t").map((e) => e.kind)).not.toContain("first"); // lock busy: nobody can number them yet
    fs.rmdirSync(lockDir); // (a real holder looks at the pending file again after releasing: see the process tests)
    expect(readEvents(ctx, "t").slice(-2).map((e) => e.kind)).toEqual(["first", "second"]);
    expect(fs.existsSync(pending)).toBe(false);
  });

  it("a batch left behind (its drainer killed): a reader numbers it, and a writer joining it after a while waits and drains it", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const pending = path.join(dir(w), "events.pending.jsonl");
    const orphan = (kind: string) => fs.appendFileSync(pending, `\n${JSON.stringify({ id: `id-${kind}`, time: new Date().toISOString(), actor: "ghost", kind, data: {} })}\n`);
    // A queued line nobody is going to number: the next reader does.
    orphan("orphan-1");
    expect(readEvents(ctx, "t").at(-1)?.kind).toBe("orphan-1");
    // Same, while another process holds the lock: a writer joining an old batch does not leave it behind.
    orphan("orphan-2");
    await new Promise((r) => setTimeout(r, 150)); // older than the stuck bound
    const lockDir = ctx.paths.events("t") + ".lock";
    fs.mkdirSync(lockDir);
    let done = false;
    const p = appendEvent(ctx, "t", "late-joiner", {}).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // it waits for the batch left behind instead of leaving its own line there too
    fs.rmdirSync(lockDir);
    await p;
    expect(fs.readFileSync(ctx.paths.events("t"), "utf8").trimEnd().split("\n").slice(-2).map((l) => JSON.parse(l).kind)).toEqual(["orphan-2", "late-joiner"]);
  });

  it("one writer alone: appendEvent resolves only once its event is numbered in events.jsonl", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    for (let i = 0; i < 20; i++) {
      await appendEvent(ctx, "t", "k", { i });
      expect(JSON.parse(fs.readFileSync(ctx.paths.events("t"), "utf8").trimEnd().split("\n").at(-1)!).data).toEqual({ i }); // the file itself, not readEvents (which numbers what is queued)
    }
  });

  it("an event for a deleted team is dropped: no new team directory, no new log", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    fs.rmSync(dir(w), { recursive: true, force: true });
    await appendEvent(ctx, "t", "late", {});
    expect(fs.existsSync(dir(w))).toBe(false);
  });
});
