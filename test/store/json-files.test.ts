/**
 * The JSON store against a hostile data directory: planted symbolic links are
 * never followed (refused with a clear error, or replaced without touching
 * their target), a directory others can write into is refused, directories are
 * 0700 and files 0600, a config that breaks the schema is named and left in
 * place, and data of the format before the log is imported.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { JsonStore } from "../../src/store/json/index.js";
import type { Task, TeamConfig } from "../../src/schemas.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

const NOW = "2026-01-01T12:00:00.000Z";
const cfg = (name: string): TeamConfig => ({ name, createdAt: NOW, leadName: "team-lead", members: [{ name: "team-lead", agentId: "lead", role: "lead", joinedAt: NOW }] });
const task = (id: string, subject = "s"): Task => ({ id, subject, description: "", status: "pending", blocks: [], blockedBy: [], createdAt: NOW, updatedAt: NOW });
const msg = (id: string, to = "team-lead") => ({ id, from: "x", to, content: "hi", summary: "hi", timestamp: NOW, read: false });

async function team(dir: string, name = "t"): Promise<JsonStore> {
  const s = new JsonStore({ dataDir: dir });
  await s.createTeam(cfg(name));
  return s;
}

/** A file outside the data directory that a planted link points at. */
function target(): string {
  const f = path.join(tempDir("clanker-target-"), "victim.txt");
  fs.writeFileSync(f, "precious\n");
  return f;
}

describe("planted symbolic links", () => {
  it("events.jsonl as a link: the events stay in the log, the link's target is untouched, and flush() says why", async () => {
    const dir = tempDir();
    const s = await team(dir);
    const victim = target();
    fs.symlinkSync(victim, path.join(dir, "teams", "t", "events.jsonl"));
    await s.appendEvents("t", [{ actor: "x", kind: "k", data: {} }]);
    await expect(s.flush()).rejects.toThrow(/symbolic link.*never follows links/);
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect((await s.readEvents("t")).map((e) => e.kind)).toEqual(["k"]);
  });

  it("an archive file as a link is refused, its target untouched", async () => {
    const dir = tempDir();
    const s = await team(dir);
    const victim = target();
    fs.mkdirSync(path.join(dir, "messages", "t", "archive"), { recursive: true });
    fs.symlinkSync(victim, path.join(dir, "messages", "t", "archive", "team-lead.jsonl"));
    for (let i = 0; i < 260; i++) await s.deliver("t", [msg(`m${i}`)]);
    await s.markRead("t", "team-lead", "all", "team-lead");
    await expect(s.flush()).rejects.toThrow(/symbolic link/);
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect((await s.history("t", "team-lead", { limit: 1000 })).total).toBe(260);
  });

  it("a task file or inbox file as a link is replaced by the real file, never written through", async () => {
    const dir = tempDir();
    const s = await team(dir);
    const v1 = target();
    const v2 = target();
    fs.mkdirSync(path.join(dir, "tasks", "t"), { recursive: true });
    fs.mkdirSync(path.join(dir, "messages", "t"), { recursive: true });
    fs.symlinkSync(v1, path.join(dir, "tasks", "t", "task_1.json"));
    fs.symlinkSync(v2, path.join(dir, "messages", "t", "team-lead.json"));
    await s.createTask("t", (id) => ({ task: task(id) }));
    await s.deliver("t", [msg("m1")]);
    await s.flush();
    expect(fs.readFileSync(v1, "utf8")).toBe("precious\n");
    expect(fs.readFileSync(v2, "utf8")).toBe("precious\n");
    expect(fs.lstatSync(path.join(dir, "tasks", "t", "task_1.json")).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "tasks", "t", "task_1.json"), "utf8")).id).toBe("1");
  });

  it("a directory of the data dir replaced by a link is refused, the other directory untouched", async () => {
    const dir = tempDir();
    const s = await team(dir);
    const elsewhere = tempDir("clanker-elsewhere-");
    fs.symlinkSync(elsewhere, path.join(dir, "tasks"));
    await s.createTask("t", (id) => ({ task: task(id) }));
    // A fresh process (no cached directories) meets the link.
    const fresh = new JsonStore({ dataDir: dir });
    await fresh.createTask("t", (id) => ({ task: task(id) }));
    await expect(fresh.flush()).rejects.toThrow(/tasks is a symbolic link/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it("a planted link in place of the next log segment stops writes with a clear error instead of writing through it", async () => {
    const dir = tempDir();
    process.env.CLANKER_TEAMS_WAL_BYTES = "2000";
    try {
      const s = await team(dir);
      const victim = target();
      fs.symlinkSync(victim, path.join(dir, "teams", "t", "wal", "000002.jsonl"));
      let err: unknown;
      for (let i = 0; i < 40 && !err; i++) {
        try { await s.createTask("t", (id) => ({ task: task(id, "x".repeat(100)) })); } catch (e) { err = e; }
      }
      expect(String(err)).toMatch(/000002\.jsonl is a symbolic link/);
      expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    } finally {
      delete process.env.CLANKER_TEAMS_WAL_BYTES;
    }
  });
});

describe("modes and ownership", () => {
  it("creates directories 0700 and files 0600", async () => {
    const dir = tempDir();
    const s = await team(dir);
    await s.createTask("t", (id) => ({ task: task(id) }));
    await s.deliver("t", [msg("m1")]);
    await s.putPresence("t", "team-lead", { pid: process.pid, host: "h", state: "idle" });
    await s.withLock("t", "spawn:x", async () => {
      for (const d of fs.readdirSync(path.join(dir, "teams", "t", "runtime"))) {
        if (d.endsWith(".lock")) expect(fs.statSync(path.join(dir, "teams", "t", "runtime", d)).mode & 0o777).toBe(0o700);
      }
    });
    await s.flush();
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        const mode = fs.statSync(p).mode & 0o777;
        if (e.isDirectory()) { expect(mode, p).toBe(0o700); walk(p); } else expect(mode, p).toBe(0o600);
      }
    };
    walk(dir);
  });

  it("refuses a data directory others can write into, saying how to fix it", async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const s = new JsonStore({ dataDir: dir });
    await expect(s.createTeam(cfg("t"))).rejects.toThrow(/writable by its group.*chmod 700/);
    await expect(s.listTeams()).rejects.toThrow(/chmod 700/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses a data directory owned by another user", async () => {
    if (process.getuid?.() !== 0) return; // only root can give a directory away here
    const dir = tempDir();
    fs.chownSync(dir, 65534, 65534);
    await expect(new JsonStore({ dataDir: dir }).listTeams()).rejects.toThrow(/belongs to uid 65534/);
  });
});

describe("hand-edited and old files", () => {
  it("a config that breaks the schema is named with the field and left in place; one that does not parse is moved aside", async () => {
    const dir = tempDir();
    const s = await team(dir);
    const file = path.join(dir, "teams", "t", "config.json");
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    c.agentCmd = "pi --model x";
    fs.writeFileSync(file, JSON.stringify(c));
    await expect(s.getTeam("t")).rejects.toThrow(/config\.json: team config: agentCmd: .*left as it is/);
    expect(fs.existsSync(file)).toBe(true);
    expect(await s.listTeams()).toEqual(["t"]);
    fs.writeFileSync(file, "{ not json");
    await expect(s.getTeam("t")).rejects.toThrow(/is corrupt .*moved to/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("imports a team of the format before the log: tasks, inboxes with unread spools, events with queued ones; numbers become ISO times", async () => {
    const dir = tempDir();
    const t = path.join(dir, "teams", "old");
    fs.mkdirSync(path.join(t, "runtime"), { recursive: true });
    fs.writeFileSync(path.join(t, "config.json"), JSON.stringify({ name: "old", createdAt: 1795258199851, leadName: "team-lead", members: [{ name: "team-lead", agentId: "a", role: "lead", joinedAt: 1795258199851 }, { name: "dev", agentId: "b", role: "teammate", joinedAt: 1795258199851 }] }));
    fs.writeFileSync(path.join(t, "events.jsonl"), [1, 2].map((seq) => JSON.stringify({ seq, time: NOW, actor: "team-lead", kind: "k", data: {}, id: `e${seq}` })).join("\n") + "\n");
    fs.writeFileSync(path.join(t, "events.pending.jsonl"), "\n" + JSON.stringify({ id: "e3", time: NOW, actor: "dev", kind: "queued", data: {} }) + "\n");
    const td = path.join(dir, "tasks", "old");
    fs.mkdirSync(td, { recursive: true });
    for (const id of ["1", "2"]) fs.writeFileSync(path.join(td, `task_${id}.json`), JSON.stringify({ ...task(id, `old ${id}`), createdAt: 1795258199851, updatedAt: 1795258199851 }));
    fs.writeFileSync(path.join(td, "task_5.json.new.tmp"), ""); // a burnt id: never reused
    fs.writeFileSync(path.join(td, "tasks.log.jsonl"), '{"log":"x"}\n');
    const md = path.join(dir, "messages", "old");
    fs.mkdirSync(md, { recursive: true });
    fs.writeFileSync(path.join(md, "dev.json"), JSON.stringify({ messages: [{ ...msg("r1", "dev"), read: true }] }));
    fs.writeFileSync(path.join(md, "dev.spool.jsonl"), "\n" + JSON.stringify(msg("u1", "dev")) + "\n" + JSON.stringify(msg("u2", "dev")) + "\n");

    const s = new JsonStore({ dataDir: dir });
    expect((await s.listTasks("old")).map((x) => x.subject)).toEqual(["old 1", "old 2"]);
    expect((await s.getTask("old", "1"))!.createdAt).toBe(new Date(1795258199851).toISOString());
    expect((await s.unread("old", "dev")).map((m) => m.id)).toEqual(["u1", "u2"]);
    expect((await s.history("old", "dev")).total).toBe(3);
    expect((await s.readEvents("old")).map((e) => [e.seq, e.kind])).toEqual([[1, "k"], [2, "k"], [3, "queued"]]);
    const next = await s.createTask("old", (id) => ({ task: task(id, "new") }));
    expect(next.id).toBe("6");
    expect(fs.existsSync(path.join(md, "dev.spool.jsonl"))).toBe(false);
    expect(fs.existsSync(path.join(td, "tasks.log.jsonl"))).toBe(false);
    await s.flush();
    expect(JSON.parse(fs.readFileSync(path.join(td, "task_1.json"), "utf8")).createdAt).toBe(new Date(1795258199851).toISOString());
  });
});
