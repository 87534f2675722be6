/**
 * Real processes on the task index (snapshot + change log, per-task locks,
 * lock-free creates), with the log folded every few KB so that compactions
 * race with writers and with SIGKILL. Slow: spawns node processes.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { assertDataFilesParse, cleanupTemp, teamWith, world, type World } from "./helpers/fixtures.js";
import { release, runAll, startWorker, type Worker } from "./helpers/procs.js";
import { getTask, listTasks } from "../src/tasks.js";
import { compact, intentFile, logFile } from "../src/task-index.js";

afterAll(cleanupTemp);

const SMALL_LOG = { CLANKER_TEAMS_TASK_LOG_BYTES: "2048" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tasks-worker.mjs worker started with --wait (the log folded every 2 KB unless `env` says otherwise). */
const worker = (w: World, args: string[], env: NodeJS.ProcessEnv = SMALL_LOG): Worker => startWorker(w.dir, [...args, "--wait"], env, "tasks-worker.mjs");

async function race(ps: Worker[]): Promise<void> {
  await runAll(await release(ps));
}

/** Index rows equal the task files; edges are symmetric; every file parses; no leftovers but killed writers' temp files. */
function checkConsistent(w: World): void {
  const lead = w.as();
  const listed = listTasks(lead, "t", { include_deleted: true });
  const files = fs.readdirSync(lead.paths.tasksDir("t")).filter((n) => /^task_\d+\.json$/.test(n));
  expect(listed.length).toBe(files.length);
  for (const s of listed) {
    const t = getTask(lead, "t", s.id);
    expect({ id: s.id, subject: s.subject, status: s.status, owner: s.owner, blockedBy: s.blockedBy, blocks: s.blocks })
      .toEqual({ id: t.id, subject: t.subject, status: t.status, owner: t.owner, blockedBy: t.blockedBy, blocks: t.blocks });
    for (const b of t.blockedBy) expect(getTask(lead, "t", b).blocks, `#${b} blocks #${t.id}`).toContain(t.id);
    for (const d of t.blocks) expect(getTask(lead, "t", d).blockedBy, `#${d} blocked by #${t.id}`).toContain(t.id);
  }
  assertDataFilesParse(w.dir);
}

describe.concurrent("task index under real processes", () => {
  it("8 processes × (20 creates + 40 updates), log folded every 2 KB: ids 1..160, every field intact in files, index and tasks.json", async () => {
    const w = world();
    const names = Array.from({ length: 8 }, (_, i) => `w${i}`);
    await teamWith(w, "t", names);
    const ps = names.map((n) => worker(w, ["mix", "t", n, "20"]));
    await race(ps);
    const expected = new Map<string, { subject: string; description: string; status: string; owner?: string; activeForm?: string }>();
    for (const [i, p] of ps.entries()) {
      for (const l of p.lines) {
        const [kind, id, ...restParts] = l.split(" ");
        const rest = restParts.join(" ");
        if (kind === "c") { expected.set(id, { subject: rest, description: `original ${rest.replace(" task ", "/")}`, status: "pending" }); continue; }
        const e = expected.get(id)!;
        const [field, ...v] = restParts;
        if (field === "claim") { e.owner = names[i]; e.status = "in_progress"; }
        else if (field === "activeForm") e.activeForm = v.join(" ");
        else if (field === "description") e.description = v.join(" ");
        else if (field === "status") e.status = v.join(" ");
      }
    }
    expect([...expected.keys()].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    const lead = w.as();
    const rows = new Map(listTasks(lead, "t").map((s) => [s.id, s]));
    for (const [id, e] of expected) {
      const t = getTask(lead, "t", id);
      expect({ subject: t.subject, description: t.description, status: t.status, owner: t.owner, activeForm: t.activeForm }, `#${id}`).toEqual(e);
      expect(rows.get(id), `#${id} in the index`).toMatchObject({ subject: e.subject, status: e.status, owner: e.owner });
    }
    checkConsistent(w);
    // task_list folded the log: tasks.json alone is current.
    const snap = JSON.parse(fs.readFileSync(lead.paths.taskIndex("t"), "utf8"));
    expect(snap.nextId).toBe(161);
    expect(Object.keys(snap.tasks)).toHaveLength(160);
    expect(snap.tasks["7"]).toEqual(rows.get("7"));
  }, 120_000);

  it("dependency edits (team lock) racing with single-task updates (task locks) lose no field and keep edges symmetric and acyclic", async () => {
    const w = world();
    await teamWith(w, "t", ["a", "b"]);
    const { createTask } = await import("../src/tasks.js");
    for (let i = 1; i <= 8; i++) await createTask(w.as(), "t", { subject: `task ${i}`, description: "" });
    const touch = [worker(w, ["touch", "t", "a", "1,2,3,4", "60"]), worker(w, ["touch", "t", "b", "5,6,7,8", "60"])];
    const edges = [worker(w, ["edges", "t", "team-lead", "8", "40"]), worker(w, ["edges", "t", "team-lead", "8", "40"])]; // the lead may edit owned tasks
    await race([...touch, ...edges]);
    expect(edges.flatMap((p) => p.lines).length).toBeGreaterThan(10);
    const last = new Map<string, string>();
    for (const p of touch) for (const l of p.lines) { const [, id, v] = l.split(" "); last.set(id, v); }
    for (const [id, v] of last) expect(getTask(w.as(), "t", id).activeForm, `#${id}`).toBe(v);
    checkConsistent(w);
    // Acyclic: walking blockedBy from any task never comes back to it.
    const lead = w.as();
    for (let i = 1; i <= 8; i++) {
      const seen = new Set<string>();
      const stack = [...getTask(lead, "t", String(i)).blockedBy];
      while (stack.length) {
        const cur = stack.pop()!;
        expect(cur, `cycle through #${i}`).not.toBe(String(i));
        if (seen.has(cur)) continue;
        seen.add(cur);
        stack.push(...getTask(lead, "t", cur).blockedBy);
      }
    }
  }, 120_000);
});

describe("task writers SIGKILLed in a loop, log folded every 1 KB", () => {
  const ROUNDS = Number(process.env.CLANKER_TEST_KILL_ROUNDS) || 25;
  it(`${ROUNDS} rounds of three writers killed at random: files parse, index agrees with the files, no acked create or update lost`, async () => {
    const w = world();
    await teamWith(w, "t", ["a", "b", "c"]);
    const created = new Map<string, string>();
    const updated = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const ps = ["a", "b", "c"].map((who) => worker(w, ["chaos", "t", who, String(round)], { CLANKER_TEAMS_TASK_LOG_BYTES: "1024" }));
      await release(ps);
      await Promise.all(ps.map(async (p) => {
        await sleep(30 + Math.random() * 250);
        p.kill();
        const r = await p.done;
        if (r.signal !== "SIGKILL") throw new Error(`chaos worker ended by itself (${r.code}): ${p.stderr.slice(-2000)}`);
      }));
      for (const p of ps) {
        expect(p.stderr).not.toMatch(/Error/);
        for (const l of p.lines) {
          const [kind, id, v] = l.split(" ");
          if (kind === "c") created.set(id, v);
          if (kind === "u") { const [r, i] = v.split(".").map(Number); updated.set(id, Math.max(updated.get(id) ?? -1, r * 1e6 + i)); }
        }
      }
    }
    expect(created.size).toBeGreaterThan(ROUNDS);
    for (const [id, subject] of created) expect(getTask(w.as(), "t", id).subject).toBe(subject);
    for (const [id, n] of updated) {
      const [r, i] = getTask(w.as(), "t", id).activeForm!.split(".").map(Number);
      expect(r * 1e6 + i, `#${id} rolled back`).toBeGreaterThanOrEqual(n);
    }
    checkConsistent(w); // readers see a killed dependency edit whole (tx.json) ...
    await compact(w.as(), "t", 0); // ... and the next team-lock holder finishes it
    expect(fs.existsSync(intentFile(w.as(), "t"))).toBe(false);
    checkConsistent(w);
    expect(fs.existsSync(logFile(w.as(), "t"))).toBe(true);
    expect(fs.existsSync(w.as().paths.taskIndex("t"))).toBe(true); // compactions happened (and were killed too)
  }, 170_000);
});
