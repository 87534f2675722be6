import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { JsonStore } from "../../src/store/json/index.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";
import type { Task, TeamConfig } from "../../src/schemas.js";

afterAll(cleanupTemp);

const cfg = (name: string): TeamConfig => ({ name, createdAt: new Date().toISOString(), leadName: "team-lead", members: [{ name: "team-lead", agentId: "x", role: "lead", joinedAt: new Date().toISOString() }] });
const task = (id: string, subject: string): Task => ({ id, subject, description: "", status: "pending", blocks: [], blockedBy: [], createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" });

describe("json store smoke", () => {
  it("creates, edits, transacts, mails, logs, rotates, materializes", async () => {
    process.env.CLANKER_TEAMS_WAL_BYTES = "4000";
    const dir = tempDir();
    const s = new JsonStore({ dataDir: dir });
    await s.createTeam(cfg("t1"), [{ actor: "team-lead", kind: "team.created", data: {} }]);
    const a = await s.createTask("t1", (id) => ({ task: task(id, "a"), events: [{ actor: "team-lead", kind: "task.created", data: { id } }] }));
    expect(a.id).toBe("1");
    const b = await s.createTask("t1", (id) => ({ task: task(id, "b") }));
    expect(b.id).toBe("2");
    const e = await s.editTask("t1", "1", (t) => { t.status = "in_progress"; t.owner = "x"; return { value: 7, write: true, events: [{ actor: "x", kind: "task.updated", data: { id: "1" } }] }; });
    expect(e.value).toBe(7);
    expect((await s.getTask("t1", "1"))!.owner).toBe("x");
    const c = await s.transact("t1", async (tx) => {
      const t = await tx.create((id) => task(id, "c"));
      const blocker = (await tx.get("2"))!;
      blocker.blocks.push(t.id);
      t.blockedBy.push("2");
      tx.put(blocker);
      tx.event({ actor: "team-lead", kind: "task.created", data: { id: t.id } });
      return t;
    });
    expect(c.id).toBe("3");
    expect((await s.getTask("t1", "2"))!.blocks).toEqual(["3"]);
    expect((await s.listTasks("t1")).map((r) => r.id)).toEqual(["1", "2", "3"]);
    for (let i = 0; i < 60; i++) await s.deliver("t1", [{ id: `m${i}`, from: "a", to: "team-lead", content: "x".repeat(100), summary: "s", timestamp: new Date().toISOString(), read: false }]);
    expect(await s.unreadCount("t1", "team-lead")).toBe(60);
    const marked = await s.markRead("t1", "team-lead", "all", "team-lead");
    expect(marked.length).toBe(60);
    expect(await s.unreadCount("t1", "team-lead")).toBe(0);
    const ev = await s.readEvents("t1");
    expect(ev.map((x) => x.seq)).toEqual(ev.map((_, i) => i + 1));
    expect(ev.at(-1)!.kind).toBe("message.read");
    await s.flush();
    const files = fs.readdirSync(path.join(dir, "teams", "t1", "wal"));
    expect(files.some((f) => f.startsWith("snapshot-"))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "tasks", "t1", "task_3.json"), "utf8")).blockedBy).toEqual(["2"]);
    const lines = fs.readFileSync(path.join(dir, "teams", "t1", "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual(ev.map((x) => x.seq));
    const fresh = new JsonStore({ dataDir: dir });
    expect((await fresh.history("t1", "team-lead")).total).toBe(60);
    delete process.env.CLANKER_TEAMS_WAL_BYTES;
  });
});
