/** Lock hand-off: N processes × M withLock() sections on one file, each a tiny append; isolates src/store/lock.ts from domain costs. */
import fs from "node:fs";
import path from "node:path";
import { mergeProfiles, type LockProfile } from "./lock-probe.js";
import { roundStats, summariseLocks } from "./sends.js";
import { freshDataDir, removeDir, round, runBarrier, stats, type BenchOptions, type BenchResult, type Check } from "./util.js";

export async function benchLock(opts: BenchOptions): Promise<BenchResult> {
  const procs = 16;
  const per = opts.quick ? 50 : 150;
  const dataDir = freshDataDir("lock");
  const file = path.join(dataDir, "shared.json");
  const log = path.join(dataDir, "shared.log");
  const { done } = await runBarrier(
    Array.from({ length: procs }, (_, i) => ({ role: "locker", dataDir, args: { file, log, count: per, name: `p${i}` } })),
  );
  const results = done.map((d) => d.result as { lat: number[]; cpuMs: number; locks: Record<string, LockProfile> });
  const wall = Math.max(...done.map((d) => d.end)) - Math.min(...done.map((d) => d.start));
  const total = procs * per;
  const st = stats(results.flatMap((r) => r.lat));
  // Mutual exclusion held if no line was lost or torn (each section appended exactly one line).
  const lines = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
  const checks: Check[] = [{ name: `${total} appends under the lock, none lost`, ok: lines.length === total, detail: `${lines.length} lines` }];
  const locks = mergeProfiles(results.map((r) => r.locks));
  removeDir(dataDir);
  return {
    name: "lock",
    title: `${procs} processes × ${per} withLock() sections on one file (lock hand-off only)`,
    metrics: [
      { name: "hand-offs", value: round(total / (wall / 1000), 0), unit: "locks/s" },
      { name: "wait+section p50", value: round(st.p50), unit: "ms" },
      { name: "wait+section p99", value: round(st.p99), unit: "ms" },
      { name: "CPU per section (all processes)", value: round(results.reduce((a, r) => a + r.cpuMs, 0) / total, 3), unit: "ms" },
    ],
    checks,
    details: { procs, per, wallMs: round(wall), latency: roundStats(st), locks: summariseLocks(locks, total) },
  };
}
