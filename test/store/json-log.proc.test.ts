/**
 * The JSON store's log with real processes: writers racing while segments
 * rotate, writers SIGKILLed mid-operation, and power loss (only what was
 * fdatasync'd survives). Every acknowledged operation must be there.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { JsonStore } from "../../src/store/json/index.js";
import type { Message, TeamConfig } from "../../src/schemas.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";
import { race, release, startWorker, type Worker } from "../helpers/procs.js";

afterAll(cleanupTemp);

const SCRIPT = "json-log-worker.mjs";

function cfg(name: string): TeamConfig {
  const now = new Date().toISOString();
  return { name, createdAt: now, leadName: "team-lead", members: [{ name: "team-lead", agentId: "lead", role: "lead", joinedAt: now }] };
}

interface Acks { created: Map<string, string>; lastForm: Map<string, string>; msgs: Set<string> }

/** What the workers acknowledged: tasks created, the last acknowledged activeForm per task (each task has one writer), messages. */
function acks(workers: Worker[]): Acks {
  const a: Acks = { created: new Map(), lastForm: new Map(), msgs: new Set() };
  for (const w of workers) {
    for (const l of w.lines) {
      const [k, x, y] = l.split(" ");
      if (k === "c") { expect(a.created.has(x), `id ${x} created twice`).toBe(false); a.created.set(x, y); }
      else if (k === "e") a.lastForm.set(x, y);
      else if (k === "m") a.msgs.add(x);
    }
  }
  return a;
}

/** Every acknowledged operation is in the store, ids are unique, events gapless. */
async function verify(dir: string, a: Acks, exact: boolean): Promise<void> {
  const s = new JsonStore({ dataDir: dir });
  const tasks = await s.listTasks("t");
  const ids = tasks.map((t) => t.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const [id, subject] of a.created) {
    const t = await s.getTask("t", id);
    expect(t?.subject, `task ${id}`).toBe(subject);
  }
  for (const [id, form] of a.lastForm) {
    // The last acknowledged edit, or a later one of the same writer that landed before it was killed (or after the copy).
    const got = (await s.getTask("t", id))?.activeForm ?? "";
    const [who, n] = form.split("-f");
    if (exact) expect(got, `task ${id} activeForm`).toBe(form);
    else {
      expect(got.split("-f")[0], `task ${id} writer`).toBe(who);
      expect(Number(got.split("-f")[1]), `task ${id} activeForm ${got} older than acknowledged ${form}`).toBeGreaterThanOrEqual(Number(n));
    }
  }
  const hist = await s.history("t", "team-lead", { limit: 100_000 });
  const got = new Set(hist.messages.map((m: Message) => m.id));
  expect(got.size).toBe(hist.messages.length);
  for (const id of a.msgs) expect(got.has(id), `message ${id}`).toBe(true);
  if (exact) {
    expect(tasks.length).toBe(a.created.size);
    expect(hist.total).toBe(a.msgs.size);
    expect(ids.map(Number).sort((x, y) => x - y)).toEqual(ids.map((_, i) => i + 1));
  }
  const ev = await s.readEvents("t");
  expect(ev.map((e) => e.seq)).toEqual(ev.map((_, i) => i + 1));
}

describe("the JSON store's log, with real processes", () => {
  it("6 writers × 60 (create, edit, send) while segments rotate every 16 KB: every acknowledged operation once, ids 1..n, events gapless, files current", async () => {
    const dir = tempDir();
    const env = { CLANKER_TEAMS_WAL_BYTES: "16000" };
    await new JsonStore({ dataDir: dir }).createTeam(cfg("t"));
    const workers = await race(dir, ["a", "b", "c", "d", "e", "f"].map((n) => [n, "60"]), env, SCRIPT);
    const a = acks(workers);
    expect(a.created.size).toBe(360);
    await verify(dir, a, true);
    const wal = fs.readdirSync(path.join(dir, "teams", "t", "wal"));
    const snaps = wal.filter((f) => f.startsWith("snapshot-"));
    expect(snaps.length).toBe(1);
    expect(Number(/(\d+)/.exec(snaps[0])![1])).toBeGreaterThan(5); // rotated many times
    // The documented files (written by the last process to exit) agree with the log.
    const index = JSON.parse(fs.readFileSync(path.join(dir, "tasks", "t", "tasks.json"), "utf8"));
    expect(Object.keys(index.tasks).length).toBe(360);
    for (const [id, form] of a.lastForm) expect(JSON.parse(fs.readFileSync(path.join(dir, "tasks", "t", `task_${id}.json`), "utf8")).activeForm).toBe(form);
    const lines = fs.readFileSync(path.join(dir, "teams", "t", "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).seq);
    expect(lines).toEqual(lines.map((_: number, i: number) => i + 1));
  }, 120_000);

  it("writers SIGKILLed at random moments lose nothing they acknowledged and leave a log every reader can load", async () => {
    const dir = tempDir();
    const env = { CLANKER_TEAMS_WAL_BYTES: "24000" };
    await new JsonStore({ dataDir: dir }).createTeam(cfg("t"));
    const all: Worker[] = [];
    for (let round = 0; round < 4; round++) {
      const ws = await release(["a", "b", "c", "d"].map((n) => startWorker(dir, [`${n}${round}`, "400", "--wait"], env, SCRIPT)));
      all.push(...ws);
      // Each is busy writing (a few operations acknowledged), then killed at a random moment.
      await Promise.all(ws.map((w) => w.waitFor(/^m \S+-m2$/, 60_000)));
      await new Promise((r) => setTimeout(r, Math.random() * 100));
      for (const w of ws) w.kill();
      await Promise.all(ws.map((w) => w.done));
    }
    const a = acks(all);
    expect(a.created.size).toBeGreaterThanOrEqual(48);
    await verify(dir, a, false);
  }, 120_000);

  it("power loss: a copy of the log cut anywhere after the last acknowledged record loads, and every operation acknowledged before the copy is in it", async () => {
    const dir = tempDir();
    await new JsonStore({ dataDir: dir }).createTeam(cfg("t"));
    // Small segments: the crashes also land around rotations and snapshots.
    const ws = await release(["a", "b", "c"].map((n) => startWorker(dir, [n, "300", "--wait"], { CLANKER_TEAMS_WAL_BYTES: "30000" }, SCRIPT)));
    let copies = 0;
    while (ws.some((w) => w.child.exitCode === null) && copies < 8) {
      await new Promise((r) => setTimeout(r, 40 + Math.random() * 80));
      // The instant of the power loss: stop every writer (a write() in progress completes first), copy, resume.
      for (const w of ws) w.child.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, 20));
      // Everything acknowledged before the copy was fdatasync'd: it must survive.
      const before = acks(ws.map((w) => ({ ...w, lines: [...w.lines] })));
      const crash = tempDir();
      try {
        fs.cpSync(dir, crash, { recursive: true });
      } finally {
        for (const w of ws) w.child.kill("SIGCONT");
      }
      const wal = path.join(crash, "teams", "t", "wal");
      const last = fs.readdirSync(wal).filter((f) => /^\d+\.jsonl$/.test(f)).sort().at(-1)!;
      const seg = path.join(wal, last);
      const text = fs.readFileSync(seg);
      // The durable prefix ends after the last record acknowledged before the copy; past it, lose a random amount.
      let durable = 0;
      for (const id of [...before.created.values(), ...before.lastForm.values(), ...before.msgs]) {
        const i = text.indexOf(`"${id}"`);
        if (i >= 0) durable = Math.max(durable, text.indexOf(0x0a, i) + 1);
      }
      const cut = durable + Math.floor(Math.random() * (text.length - durable + 1));
      fs.writeFileSync(seg, Buffer.concat([text.subarray(0, cut), Buffer.alloc(Math.random() < 0.5 ? 0 : 37)]));
      // Derived files are not part of the durable state: drop them (not the archives, which are), the log rebuilds them.
      fs.rmSync(path.join(crash, "tasks"), { recursive: true, force: true });
      const mdir = path.join(crash, "messages", "t");
      for (const f of fs.existsSync(mdir) ? fs.readdirSync(mdir).filter((n) => n.endsWith(".json")) : []) fs.rmSync(path.join(mdir, f));
      await verify(crash, before, false);
      copies++;
    }
    expect(copies).toBeGreaterThan(0);
    await Promise.all(ws.map((w) => w.done));
  }, 120_000);
});
