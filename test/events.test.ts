import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { appendEvent, readEvents } from "../src/domain/events.js";
import { createTask, updateTask } from "../src/domain/tasks.js";
import { sendMessage } from "../src/domain/messages.js";
import { deleteTeam } from "../src/domain/teams.js";
import { cleanupTemp, readJsonl, teamWith, until, world } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

describe("events", () => {
  it("seq is strictly increasing without gaps, one line per event in events.jsonl, with time, actor, kind and data", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as("team-lead");
    await Promise.all(Array.from({ length: 30 }, (_, i) => appendEvent(ctx, "t", "test.ping", { i })));
    await w.flush();
    const evs = readJsonl(w.layout.events("t"));
    expect(evs.map((e) => e.seq)).toEqual([...Array(evs.length).keys()].map((i) => i + 1));
    const pings = evs.filter((e) => e.kind === "test.ping");
    expect(pings).toHaveLength(30);
    expect(new Set(pings.map((e) => e.data.i)).size).toBe(30);
    for (const e of evs) {
      expect(e.actor).toBe("team-lead");
      expect(e.time).toBe(new Date(w.clock.now).toISOString());
    }
    expect(await readEvents(ctx, "t")).toEqual(evs);
  });

  it("every state change logs exactly one event of its kind; readEvents pages by seq", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const lead = w.as();
    const n0 = (await readEvents(lead, "t")).length; // team.created + member.added
    expect((await readEvents(lead, "t")).map((e) => e.kind)).toEqual(["team.created", "member.added"]);
    await createTask(lead, "t", { subject: "a", description: "" });
    await updateTask(lead, "t", "1", { subject: "b" });
    await sendMessage(lead, "t", { recipient: "dev", content: "hi", summary: "hi" });
    const kinds = (await readEvents(lead, "t")).slice(n0).map((e) => e.kind);
    expect(kinds).toEqual(["task.created", "task.updated", "message.sent"]);
    expect((await readEvents(lead, "t", n0 + 1)).map((e) => e.kind)).toEqual(["task.updated", "message.sent"]);
    expect((await readEvents(lead, "t", 0, 2)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("readEvents has an event at once; events.jsonl follows within ~100 ms without anyone asking", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    for (let i = 0; i < 5; i++) {
      await appendEvent(ctx, "t", "k", { i });
      expect((await readEvents(ctx, "t")).at(-1)?.data).toEqual({ i });
      const t0 = Date.now();
      await until(() => readJsonl(w.layout.events("t")).at(-1)?.data?.i === i, 2000, 5);
      expect(Date.now() - t0).toBeLessThan(1000);
    }
  });

  it("a torn last line in events.jsonl (a writer killed mid-append) is cut off; the sequence goes on without reusing a seq", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    const file = w.layout.events("t");
    await appendEvent(ctx, "t", "a", {});
    await w.flush();
    const before = fs.readFileSync(file, "utf8");
    fs.appendFileSync(file, '{"seq": 99, "time": "x", "act');
    await appendEvent(ctx, "t", "b", {});
    await w.flush();
    const text = fs.readFileSync(file, "utf8");
    expect(text.startsWith(before)).toBe(true);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((e) => e.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.at(-1)).toMatchObject({ kind: "b", seq: lines.length });
  });

  it("an event for a deleted team is refused (NOT_FOUND): no team directory or log comes back", async () => {
    const w = world();
    await teamWith(w, "t");
    const ctx = w.as();
    await appendEvent(ctx, "t", "before", {});
    await deleteTeam(ctx, "t");
    await expect(appendEvent(ctx, "t", "late", {})).rejects.toMatchObject({ code: "NOT_FOUND" });
    await w.flush();
    expect(fs.existsSync(w.layout.teamDir("t"))).toBe(false);
    expect(fs.readdirSync(w.dir).filter((d) => fs.existsSync(`${w.dir}/${d}/t`))).toEqual([]);
  });
});
