/** In-process microbenchmarks: what one uncontended operation costs, piece by piece, to guide optimisation. */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import lockfile from "proper-lockfile";
import {
  makeCtx, createTeam, addMember, sendMessage, createTask, updateTask, readInbox, readTeam, appendEvent,
  InboxSchema, parseWith,
} from "../src/index.js";
import { withLock } from "../src/store/lock.js";
import { appendText, readJson, writeJson } from "../src/store/json-file.js";
import { freshDataDir, removeDir, round, stats, type BenchOptions, type BenchResult, type Metric } from "./util.js";

async function time(n: number, fn: (i: number) => unknown): Promise<{ p50: number; p99: number; mean: number }> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(-1 - i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  const s = stats(out);
  return { p50: s.p50, p99: s.p99, mean: s.mean };
}

export async function benchMicro(opts: BenchOptions): Promise<BenchResult> {
  const n = opts.quick ? 100 : 400;
  const dataDir = freshDataDir("micro");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  const w1 = makeCtx({ dataDir, actor: "w1" });
  await createTeam(lead, { team_name: team });
  for (let i = 1; i <= 16; i++) await addMember(lead, team, { name: `w${i}`, role: "teammate" });
  const scratch = path.join(dataDir, "scratch");
  fs.mkdirSync(scratch, { recursive: true });
  const small = { id: "1", subject: "a task subject", description: "x".repeat(600), status: "in_progress", owner: "w1", blocks: [], blockedBy: [], createdAt: Date.now(), updatedAt: Date.now() };
  const line = JSON.stringify({ id: "abcdefabcdef", from: "w1", to: "team-lead", content: "hello ".repeat(20), summary: "hi", timestamp: new Date().toISOString(), read: false }) + "\n";

  const rows: [string, Promise<{ p50: number; p99: number; mean: number }> | (() => Promise<{ p50: number; p99: number; mean: number }>)][] = [
    ["mkdir+rmdir (lock dir floor)", () => time(n, () => { const d = path.join(scratch, "d.lock"); fs.mkdirSync(d); fs.rmdirSync(d); })],
    ["proper-lockfile lock+unlock (raw)", () => time(n, async () => { const u = await lockfile.lock(path.join(scratch, "raw"), { realpath: false, stale: 5000, update: 1000, retries: 0 }); await u(); })],
    ["withLock(noop) = mutex + lock + unlock", () => time(n, () => withLock(path.join(scratch, "wl"), () => undefined))],
    ["writeJson 1 KB, fsync (atomic write)", () => time(n, (i) => writeJson(path.join(scratch, "task.json"), { ...small, updatedAt: i }))],
    ["writeJson 1 KB, no fsync", () => time(n, (i) => writeJson(path.join(scratch, "idx.json"), { ...small, updatedAt: i }, { fsync: false }))],
    ["append 250 B + fdatasync (spool)", () => time(n, () => appendText(path.join(scratch, "spool.jsonl"), line, { sync: true }))],
    ["append 250 B, no sync", () => time(n, () => appendText(path.join(scratch, "log.jsonl"), line))],
    ["appendEvent (events lock + append)", () => time(n, (i) => appendEvent(lead, team, "bench.micro", { i }))],
    ["readTeam (17 members; stat, zod once per version)", () => time(n, () => readTeam(lead, team))],
    ["sendMessage, uncontended", () => time(n, (i) => sendMessage(lead, team, { recipient: "w1", content: `m ${i}`, summary: "micro" }))],
    ["readInbox: mark ~420 read + archive", async () => { const t0 = performance.now(); await readInbox(w1, team); const d = performance.now() - t0; return { p50: d, p99: d, mean: d }; }],
    ["readJson inbox (200 read msgs) + zod", () => time(Math.min(n, 200), () => parseWith(InboxSchema, readJson(lead.paths.inbox(team, "w1")), "inbox"))],
    ["readInbox unread_only, empty", () => time(n, () => readInbox(w1, team))],
    ["createTask, uncontended", () => time(Math.min(n, 200), (i) => createTask(w1, team, { subject: `micro ${i}`, description: "d" }))],
    ["updateTask active_form, uncontended", () => time(Math.min(n, 200), (i) => updateTask(w1, team, "1", { active_form: `step ${i}` }))],
  ];
  const metrics: Metric[] = [];
  const details: Record<string, unknown> = {};
  for (const [name, f] of rows) {
    const r = await (typeof f === "function" ? f() : f);
    metrics.push({ name, value: round(r.p50, 3), unit: "ms p50" });
    details[name] = { p50: round(r.p50, 3), p99: round(r.p99, 3), mean: round(r.mean, 3) };
  }
  removeDir(dataDir);
  return { name: "micro", title: "in-process cost of the building blocks (uncontended)", metrics, checks: [], details };
}
