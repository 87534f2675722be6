/** Benchmark 3: send and empty-inbox check with 10,000 messages of history in the recipient's inbox (in-process). */
import { performance } from "node:perf_hooks";
import { makeCtx, createTeam, addMember, sendMessage, readInbox, readHistory, unreadCount } from "../src/index.js";
import { roundStats } from "./sends.js";
import { freshDataDir, removeDir, round, stats, type BenchOptions, type BenchResult, type Check } from "./util.js";

async function sample(n: number, warm: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn(-1 - i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function benchHistory(opts: BenchOptions): Promise<BenchResult> {
  const history = opts.quick ? 2000 : 10_000;
  const samples = opts.quick ? 100 : 300;
  const dataDir = freshDataDir("history");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  const w1 = makeCtx({ dataDir, actor: "w1" });
  await createTeam(lead, { team_name: team });
  await addMember(lead, team, { name: "w1", role: "teammate" });

  // Build the history through the library: send, and let w1 read every 250 so the archive fills as in real use.
  const t0 = performance.now();
  for (let i = 0; i < history; i++) {
    await sendMessage(lead, team, { recipient: "w1", content: `history message ${i}: ${"lorem ipsum ".repeat(8)}`, summary: `history ${i}` });
    if (i % 250 === 249) await readInbox(w1, team);
  }
  await readInbox(w1, team);
  const buildMs = performance.now() - t0;
  const checks: Check[] = [];
  const h = readHistory(w1, team, "w1", { limit: 1 });
  checks.push({ name: `history holds all ${history} messages (archive + inbox)`, ok: h.total === history, detail: `total ${h.total}` });

  // Send with history (lands in the spool), then drain so the inbox is empty of unread again.
  const send = await sample(samples, 10, (i) => sendMessage(lead, team, { recipient: "w1", content: `probe ${i}`, summary: "probe" }));
  const drainT0 = performance.now();
  const drained = await readInbox(w1, team);
  const drainMs = performance.now() - drainT0;
  checks.push({ name: "probe sends all arrive", ok: drained.messages.length === samples + 10, detail: `${drained.messages.length}` });

  const empty = await sample(samples * 2, 20, () => readInbox(w1, team, { unread_only: true }));
  const count = await sample(samples * 2, 20, () => unreadCount(w1, team, "w1"));
  // One new message, then the owner reads it: the common "message arrived" path with a large history.
  const readOne: number[] = [];
  const readOneN = Math.min(100, samples);
  for (let i = 0; i < readOneN + 5; i++) {
    await sendMessage(lead, team, { recipient: "w1", content: "ping", summary: "ping" });
    const t0 = performance.now();
    const r = await readInbox(w1, team);
    const dt = performance.now() - t0;
    if (r.messages.length !== 1) checks.push({ name: "read after one send returns it", ok: false, detail: `got ${r.messages.length}` });
    if (i >= 5) readOne.push(dt);
  }
  const finalTotal = readHistory(w1, team, "w1", { limit: 1 }).total;
  const expectTotal = history + samples + 10 + Math.min(100, samples) + 5;
  checks.push({ name: "history total after the run", ok: finalTotal === expectTotal, detail: `${finalTotal} (expected ${expectTotal})` });

  const ss = stats(send);
  const es = stats(empty);
  removeDir(dataDir);
  return {
    name: "history",
    title: `with ${history.toLocaleString("en")} messages of history (in-process)`,
    metrics: [
      { name: "send p50", value: round(ss.p50, 3), unit: "ms", target: { op: "<=", value: 2 } },
      { name: "send p99", value: round(ss.p99, 3), unit: "ms" },
      { name: "empty inbox check p50", value: round(es.p50, 3), unit: "ms", target: { op: "<=", value: 0.5 } },
      { name: "empty inbox check p99", value: round(es.p99, 3), unit: "ms" },
      { name: "unreadCount p50", value: round(stats(count).p50, 3), unit: "ms" },
      { name: "send+read 1 msg: read p50", value: round(stats(readOne).p50, 3), unit: "ms" },
    ],
    checks,
    details: { history, samples, buildMs: round(buildMs, 0), drainMs: round(drainMs, 2), send: roundStats(ss), emptyCheck: roundStats(es), unreadCount: roundStats(stats(count)), readOne: roundStats(stats(readOne)) },
  };
}
