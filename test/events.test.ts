import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { appendEvent, readEvents } from "../src/events.js";
import { createTask, updateTask } from "../src/tasks.js";
import { sendMessage } from "../src/messages.js";
import { cleanupTemp, teamWith, world } from "./helpers/fixtures.js";

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

  it("continues the sequence after a torn last line (crash mid-append) and never reuses a seq", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const file = ctx.paths.events("t");
    await appendEvent(ctx, "t", "a", {});
    fs.appendFileSync(file, '{"seq": 99, "time": "x", "act');
    const e = await appendEvent(ctx, "t", "b", {});
    // The torn fragment is closed off by a newline: the new event is a line of its own.
    expect(fs.readFileSync(file, "utf8").split("\n").at(-2)).toBe(JSON.stringify(e));
    const evs = readEvents(ctx, "t");
    expect(evs.at(-1)?.kind).toBe("b");
    expect(e.seq).toBeGreaterThan(evs.at(-2)!.seq);
    const seqs = evs.map((x) => x.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
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
    expect((await appendEvent(ctx, "t", "b", {})).seq).toBe(501);
  });
});
