/** Benchmark 1: N processes × M sends to one inbox (the lead's). */
import { makeCtx, createTeam, addMember, readInbox, readHistory, readEvents } from "../src/index.js";
import { mergeProfiles, type LockProfile } from "./lock-probe.js";
import { freshDataDir, removeDir, round, runBarrier, stats, type BenchOptions, type BenchResult, type Check } from "./util.js";

export async function benchSends(opts: BenchOptions): Promise<BenchResult> {
  const procs = 16;
  const per = opts.quick ? 30 : 100;
  const dataDir = freshDataDir("sends");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  await createTeam(lead, { team_name: team });
  for (let i = 1; i <= procs; i++) await addMember(lead, team, { name: `w${i}`, role: "teammate" });
  await addMember(lead, team, { name: "sink", role: "teammate" });

  const { done } = await runBarrier(
    Array.from({ length: procs }, (_, i) => ({
      role: "sends",
      dataDir,
      args: { team, name: `w${i + 1}`, to: "team-lead", count: per, warmupTo: "sink" },
    })),
  );
  const results = done.map((d) => d.result as { lat: number[]; cpuMs: number; locks: Record<string, LockProfile> });
  const lat = results.flatMap((r) => r.lat);
  const first = Math.min(...done.map((d) => d.start));
  const last = Math.max(...done.map((d) => d.end));
  const wall = last - first;
  const total = procs * per;
  const st = stats(lat);

  // Verification: exactly procs*per messages, distinct ids, every (sender, i) exactly once.
  const checks: Check[] = [];
  const inbox = await readInbox(lead, team, { unread_only: true });
  const msgs = inbox.messages;
  const ids = new Set(msgs.map((m) => m.id));
  checks.push({ name: `exactly ${total} messages arrived`, ok: msgs.length === total, detail: `got ${msgs.length}` });
  checks.push({ name: "message ids distinct", ok: ids.size === msgs.length, detail: `${ids.size} distinct of ${msgs.length}` });
  const want = new Set<string>();
  for (let i = 1; i <= procs; i++) for (let j = 0; j < per; j++) want.add(`w${i}#${j}`);
  const seen = new Map<string, number>();
  for (const m of msgs) seen.set(m.content, (seen.get(m.content) ?? 0) + 1);
  const missing = [...want].filter((c) => !seen.has(c));
  const dup = [...seen].filter(([, n]) => n > 1).map(([c]) => c);
  checks.push({ name: "every (sender, seq) exactly once", ok: missing.length === 0 && dup.length === 0, detail: `${missing.length} missing, ${dup.length} duplicated${missing.length ? ` e.g. ${missing.slice(0, 3).join(",")}` : ""}` });
  const hist = readHistory(lead, team, "team-lead", { limit: total + 10 });
  checks.push({ name: "history after read holds them all", ok: hist.total === total, detail: `history total ${hist.total}` });
  const ev = readEvents(lead, team);
  let mono = true;
  for (let i = 1; i < ev.length; i++) if (ev[i].seq !== ev[i - 1].seq + 1) mono = false;
  const sentEvents = ev.filter((e) => e.kind === "message.sent" && e.data.to === "team-lead").length;
  checks.push({ name: "events.jsonl seq 1..n without gaps or repeats", ok: mono && ev[0]?.seq === 1, detail: `${ev.length} events` });
  checks.push({ name: `one message.sent event per send`, ok: sentEvents === total, detail: `${sentEvents}` });

  const locks = mergeProfiles(results.map((r) => r.locks));
  removeDir(dataDir);
  return {
    name: "sends",
    title: `${procs} processes × ${per} sends to one inbox`,
    metrics: [
      { name: "throughput", value: round(total / (wall / 1000), 0), unit: "sends/s", target: { op: ">=", value: 1300 } },
      { name: "latency p50", value: round(st.p50), unit: "ms" },
      { name: "latency p99", value: round(st.p99), unit: "ms", target: { op: "<=", value: 30 } },
      { name: "latency max", value: round(st.max), unit: "ms" },
      { name: "CPU per send (all processes)", value: round(results.reduce((a, r) => a + r.cpuMs, 0) / total, 2), unit: "ms" },
    ],
    checks,
    details: { procs, per, wallMs: round(wall), cpuMsPerOp: round(results.reduce((a, r) => a + r.cpuMs, 0) / total, 3), latency: roundStats(st), locks: summariseLocks(locks, total) },
  };
}

export function roundStats(s: ReturnType<typeof stats>): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)]));
}

/** Per lock kind: attempts per op, busy ratio, mean hold time, mean time per lock() call. */
export function summariseLocks(locks: Record<string, LockProfile>, ops: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [k, p] of Object.entries(locks)) {
    out[k] = {
      acquired: p.acquired,
      attemptsPerAcquire: round(p.attempts / Math.max(1, p.acquired), 2),
      busyPerOp: round(p.busy / Math.max(1, ops), 2),
      meanHoldMs: round(p.holdMs / Math.max(1, p.acquired), 3),
      meanAttemptMs: round(p.attemptMs / Math.max(1, p.attempts), 3),
      meanReleaseMs: round(p.releaseMs / Math.max(1, p.acquired), 3),
      totalHoldMs: round(p.holdMs, 1),
    };
  }
  return out;
}
