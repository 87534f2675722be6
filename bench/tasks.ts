/** Benchmark 2: N processes × (C creates + 2C updates) on one team's task list. */
import { makeCtx, createTeam, addMember, getTask, listTasks } from "../src/index.js";
import { mergeProfiles, type LockProfile } from "./lock-probe.js";
import { roundStats, summariseLocks } from "./sends.js";
import { freshDataDir, removeDir, round, runBarrier, stats, type BenchOptions, type BenchResult, type Check } from "./util.js";

interface Expected { id: string; subject: string; description: string; status: string; owner?: string; activeForm?: string }
interface TasksResult { cpuMs: number; createLat: number[]; updateLat: number[]; updateKinds: Record<string, number[]>; expected: Expected[]; locks: Record<string, LockProfile> }

export async function benchTasks(opts: BenchOptions): Promise<BenchResult> {
  const procs = 16;
  const creates = opts.quick ? 15 : 50;
  const dataDir = freshDataDir("tasks");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  await createTeam(lead, { team_name: team });
  for (let i = 1; i <= procs; i++) await addMember(lead, team, { name: `w${i}`, role: "teammate" });
  // Workers warm up on another team (first-call compilation is start-up, as in the sends benchmark), so the counts stay exact.
  const warmTeam = `${team}-warmup`;
  await createTeam(lead, { team_name: warmTeam });
  for (let i = 1; i <= procs; i++) await addMember(lead, warmTeam, { name: `w${i}`, role: "teammate" });

  const { done } = await runBarrier(
    Array.from({ length: procs }, (_, i) => ({ role: "tasks", dataDir, args: { team, warmTeam, name: `w${i + 1}`, creates } })),
  );
  const results = done.map((d) => d.result as TasksResult);
  const first = Math.min(...done.map((d) => d.start));
  const last = Math.max(...done.map((d) => d.end));
  const wall = last - first;
  const createLat = results.flatMap((r) => r.createLat);
  const updateLat = results.flatMap((r) => r.updateLat);
  const ops = createLat.length + updateLat.length;
  const cs = stats(createLat);
  const us = stats(updateLat);
  const kinds: Record<string, Record<string, number>> = {};
  for (const k of Object.keys(results[0]?.updateKinds ?? {})) kinds[k] = roundStats(stats(results.flatMap((r) => r.updateKinds[k])));

  // Verification: distinct ids, and every field of every task is what its writer expects (file and index).
  const checks: Check[] = [];
  const expected = results.flatMap((r) => r.expected);
  const ids = new Set(expected.map((e) => e.id));
  checks.push({ name: `${procs * creates} creates gave distinct ids`, ok: ids.size === procs * creates && expected.length === procs * creates, detail: `${ids.size} distinct of ${expected.length}` });
  const index = new Map(listTasks(lead, team, { include_deleted: true }).map((s) => [s.id, s]));
  checks.push({ name: "index lists every task once", ok: index.size === procs * creates, detail: `${index.size} in tasks.json` });
  const bad: string[] = [];
  for (const e of expected) {
    let t;
    try {
      t = getTask(lead, team, e.id);
    } catch (err) {
      bad.push(`#${e.id}: ${(err as Error).message}`);
      continue;
    }
    const diff: string[] = [];
    if (t.subject !== e.subject) diff.push(`subject ${JSON.stringify(t.subject)}`);
    if (t.description !== e.description) diff.push("description");
    if (t.status !== e.status) diff.push(`status ${t.status}≠${e.status}`);
    if (t.owner !== e.owner) diff.push(`owner ${t.owner}≠${e.owner}`);
    if (t.activeForm !== e.activeForm) diff.push(`activeForm ${JSON.stringify(t.activeForm)}≠${JSON.stringify(e.activeForm)}`);
    if (t.blocks.length || t.blockedBy.length) diff.push("dependencies appeared");
    if (e.status === "completed" && typeof t.completedAt !== "number") diff.push("completedAt missing");
    const s = index.get(e.id);
    if (!s) diff.push("missing from index");
    else if (s.status !== e.status || s.owner !== e.owner || s.subject !== e.subject) diff.push(`index stale (${s.status}/${s.owner})`);
    if (diff.length) bad.push(`#${e.id}: ${diff.join(", ")}`);
  }
  checks.push({ name: "every field of every task intact (file + index)", ok: bad.length === 0, detail: bad.length ? `${bad.length} bad, e.g. ${bad.slice(0, 3).join("; ")}` : `${expected.length} tasks × 7 fields checked` });

  const locks = mergeProfiles(results.map((r) => r.locks));
  removeDir(dataDir);
  return {
    name: "tasks",
    title: `${procs} processes × (${creates} creates + ${2 * creates} updates)`,
    metrics: [
      { name: "throughput", value: round(ops / (wall / 1000), 0), unit: "ops/s", target: { op: ">=", value: 1500 } },
      { name: "create p50", value: round(cs.p50), unit: "ms" },
      { name: "create p99", value: round(cs.p99), unit: "ms", target: { op: "<=", value: 50 } },
      { name: "update p50", value: round(us.p50), unit: "ms" },
      { name: "update p99", value: round(us.p99), unit: "ms" },
      { name: "op max", value: round(Math.max(cs.max, us.max)), unit: "ms" },
      { name: "CPU per op (all processes)", value: round(results.reduce((a, r) => a + r.cpuMs, 0) / ops, 2), unit: "ms" },
    ],
    checks,
    details: { procs, creates, updates: 2 * creates, wallMs: round(wall), cpuMsPerOp: round(results.reduce((a, r) => a + r.cpuMs, 0) / ops, 3), create: roundStats(cs), update: roundStats(us), updateKinds: kinds, locks: summariseLocks(locks, ops) },
  };
}
