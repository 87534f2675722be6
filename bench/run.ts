/**
 * `npm run bench [-- --only sends,tasks] [--quick]`: runs the benchmarks with
 * real processes on fresh temp data dirs, prints a table, writes
 * .bench-out/results.json. Exits 1 when a correctness check fails (lost
 * messages, lost fields); a missed speed target only prints MISSED.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchSends } from "./sends.js";
import { benchTasks } from "./tasks.js";
import { benchHistory } from "./history.js";
import { benchStaleLock } from "./stale-lock.js";
import { benchRecovery } from "./recovery.js";
import { benchMicro } from "./micro.js";
import { benchLock } from "./lock.js";
import { benchDelivery } from "./delivery.js";
import { metricMet, round, type BenchOptions, type BenchResult } from "./util.js";

const BENCHES: Record<string, { run: (o: BenchOptions) => Promise<BenchResult>; inQuick: boolean; about: string }> = {
  sends: { run: benchSends, inQuick: true, about: "16 processes × 100 sends to one inbox" },
  tasks: { run: benchTasks, inQuick: true, about: "16 processes × (50 creates + 100 updates)" },
  history: { run: benchHistory, inQuick: true, about: "send / empty check with 10,000 messages of history" },
  "stale-lock": { run: benchStaleLock, inQuick: true, about: "task lock left by a SIGKILLed holder" },
  "recovery-local": { run: (o) => benchRecovery(o, "local"), inQuick: true, about: "SIGKILLed task owner, same host (pid)" },
  "recovery-remote": { run: (o) => benchRecovery(o, "remote"), inQuick: false, about: "SIGKILLed task owner, other host (heartbeat, ~35 s)" },
  lock: { run: benchLock, inQuick: true, about: "lock hand-off rate: 16 processes, one lock, tiny sections" },
  micro: { run: benchMicro, inQuick: true, about: "in-process cost breakdown" },
  "delivery-0.73": { run: (o) => deliveryBench(o, "0.73"), inQuick: true, about: "send → idle recipient's new turn, real pi 0.73 (extension, scripted model)" },
  "delivery-0.55": { run: (o) => deliveryBench(o, "0.55"), inQuick: false, about: "send → idle recipient's new turn, real pi 0.55" },
};

/** Idle delivery latency into a real pi; benchDelivery throws on a lost, doubled or truncated message. */
async function deliveryBench(o: BenchOptions, version: "0.73" | "0.55"): Promise<BenchResult> {
  const n = o.quick ? 20 : 50;
  const name = `delivery-${version}`;
  try {
    const r = await benchDelivery({ messages: n, version });
    return {
      name, title: BENCHES[name].about,
      metrics: [
        { name: "latency p50", value: round(r.p50, 1), unit: "ms" },
        { name: "latency p99", value: round(r.p99, 1), unit: "ms", target: { op: "<=", value: 1000 } },
        { name: "latency max", value: round(r.max, 1), unit: "ms" },
      ],
      checks: [{ name: `${r.n} messages each delivered exactly once, full text, none left unread`, ok: r.n === n }],
      details: { samples: r.samples },
    };
  } catch (e) {
    return { name, title: BENCHES[name].about, metrics: [], checks: [{ name: "every message delivered exactly once", ok: false, detail: (e as Error).message }] };
  }
}

function usage(): string {
  return [
    "usage: npm run bench -- [--only NAME[,NAME…]] [--quick] [--out FILE]",
    "  --quick   fewer operations per process, skips recovery-remote (unless named in --only)",
    "  --only    run only these benchmarks:",
    ...Object.entries(BENCHES).map(([k, b]) => `              ${k.padEnd(16)} ${b.about}`),
    "Data lives in fresh temp dirs (CLANKER_TEAMS_DIR is set per worker); ~/.clanker is never touched.",
  ].join("\n");
}

function parseArgs(argv: string[]): { only?: string[]; quick: boolean; out: string } {
  let only: string[] | undefined;
  let quick = false;
  let out = path.resolve(".bench-out/results.json");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") quick = true;
    else if (a === "--only" || a.startsWith("--only=")) {
      const v = a.includes("=") ? a.slice(7) : argv[++i];
      if (!v) throw new Error("--only needs a name");
      only = [...(only ?? []), ...v.split(",").map((s) => s.trim()).filter(Boolean)];
    } else if (a === "--out") out = path.resolve(argv[++i] ?? out);
    else if (a === "--help" || a === "-h") { console.log(usage()); process.exit(0); }
    else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  for (const n of only ?? []) if (!BENCHES[n]) throw new Error(`unknown benchmark "${n}"\n${usage()}`);
  return { only, quick, out };
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(Math.abs(v) < 1 ? 3 : 2);
}

function printResult(r: BenchResult): void {
  const load = r.details?.loadavg1Before;
  console.log(`\n== ${r.name}: ${r.title}${r.durationMs !== undefined ? `  (${(r.durationMs / 1000).toFixed(1)} s${load !== undefined ? `, load ${load}` : ""})` : ""}`);
  if (r.error) console.log(`   ERROR  ${r.error.split("\n").slice(0, 6).join("\n          ")}`);
  for (const m of r.metrics) {
    const met = metricMet(m);
    const target = m.target ? `target ${m.target.op} ${m.target.value} ${m.unit}` : "";
    const status = met === undefined ? "" : met ? "ok" : "MISSED";
    console.log(`   ${m.name.padEnd(40)} ${fmt(m.value).padStart(9)} ${m.unit.padEnd(8)} ${target.padEnd(24)} ${status}`);
  }
  for (const c of r.checks) console.log(`   ${c.ok ? "PASS" : "FAIL"}  ${c.name}${c.detail ? `  (${c.detail})` : ""}`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Belt and braces: in-process benchmarks build their ctx from explicit dirs, but nothing may fall back to ~/.clanker.
  process.env.CLANKER_TEAMS_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-teams-bench-unused-"));
  const names = args.only ?? Object.keys(BENCHES).filter((k) => !args.quick || BENCHES[k].inQuick);
  const opts: BenchOptions = { quick: args.quick };
  console.log(`clanker-teams bench${args.quick ? " (quick)" : ""}: ${names.join(", ")}`);
  console.log(`node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${os.platform()} ${os.release()}, tmp ${os.tmpdir()}`);
  const results: BenchResult[] = [];
  for (const name of names) {
    const t0 = Date.now();
    const loadBefore = os.loadavg()[0];
    let r: BenchResult;
    try {
      r = await BENCHES[name].run(opts);
    } catch (e) {
      r = { name, title: BENCHES[name].about, metrics: [], checks: [{ name: "benchmark ran to completion", ok: false }], error: (e as Error).stack ?? String(e) };
    }
    r.durationMs = Date.now() - t0;
    // This machine is shared: record how busy it was, since contended timings depend on it.
    r.details = { ...r.details, loadavg1Before: round(loadBefore, 2), loadavg1After: round(os.loadavg()[0], 2) };
    printResult(r);
    results.push(r);
  }
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.name}: ${c.name}`));
  const missed = results.flatMap((r) => r.metrics.filter((m) => metricMet(m) === false).map((m) => `${r.name}: ${m.name}`));
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify({
    when: new Date().toISOString(),
    quick: args.quick,
    machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, platform: `${os.platform()} ${os.release()}`, tmpdir: os.tmpdir() },
    results,
    summary: { failedChecks: failed, missedTargets: missed },
  }, null, 2) + "\n");
  fs.rmSync(process.env.CLANKER_TEAMS_DIR, { recursive: true, force: true });
  console.log(`\n${results.length} benchmark(s); ${missed.length} target(s) MISSED${missed.length ? `: ${missed.join("; ")}` : ""}; ${failed.length} correctness check(s) FAILED${failed.length ? `: ${failed.join("; ")}` : ""}`);
  console.log(`results: ${path.relative(process.cwd(), args.out)}`);
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error((e as Error).message);
  process.exit(2);
});
