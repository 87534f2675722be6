/**
 * `npm run bench [-- --only NAME,…] [--quick] [--repeats N]`: every scenario
 * on fresh temp data (JSON store on the disk and on tmpfs; PostgreSQL on the
 * bench's own durable cluster), each repeat next to the physical-limit
 * primitives measured in that same repeat, then medians and ratios. Prints a
 * table, writes .bench-out/results.json. Exits 1 when a correctness check
 * fails (lost, doubled or altered data, gaps in events, double owners); a
 * missed speed target only prints MISSED.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { claimsScenario, sendsScenario, tasksScenario } from "./load.js";
import { historyScenario, readOneScenario, wakeScenario } from "./latency.js";
import { recoveryScenario, staleLockScenario } from "./faults.js";
import { inodesScenario } from "./inodes.js";
import { costsScenario } from "./costs.js";
import { benchDelivery } from "./delivery.js";
import { freshStore, pgUnavailable, stopBenchCluster, tmpfsAvailable, type StoreKind } from "./stores.js";
import { leaseMs } from "../src/index.js";
import { median, met, round, type BenchOptions, type Check, type Metric, type RepeatResult, type Target } from "./util.js";

interface Scenario {
  name: string;
  store: StoreKind;
  about: string;
  inQuick: boolean;
  /** Repeats of this scenario (default: --repeats). */
  repeats?: number;
  /** A metric whose last-repeat ÷ first-repeat value is reported (figures must not decay from run to run). */
  decay?: string;
  run(o: BenchOptions): Promise<RepeatResult>;
}

const ge = (value: number): Target => ({ op: ">=", value });
const le = (value: number): Target => ({ op: "<=", value });

/** Delivery into a real pi as a repeat result; benchDelivery throws on a lost, doubled or truncated message. */
async function delivery(o: BenchOptions, kind: StoreKind, version: "0.73" | "0.55", p50: Target): Promise<RepeatResult> {
  const n = o.quick ? 20 : 50;
  let db: string | undefined;
  let cleanup = async () => {};
  if (kind === "pg") {
    const s = await freshStore("pg", "delivery");
    db = s.ref.db;
    cleanup = s.cleanup;
  }
  try {
    const r = await benchDelivery({ messages: n, version, db });
    return {
      metrics: [
        { name: "send → pi starts a run, p50", value: r.p50, unit: "ms", target: p50 },
        { name: "p99", value: r.p99, unit: "ms", target: le(1000) },
        { name: "max", value: r.max, unit: "ms" },
      ],
      prims: {},
      checks: [{ name: `${r.n} messages each started one run with its full text, read once, none left unread`, ok: r.n === n }],
      details: { samples: r.samples },
    };
  } catch (e) {
    return { metrics: [], prims: {}, checks: [{ name: "every message delivered exactly once", ok: false, detail: (e as Error).message.slice(0, 500) }] };
  } finally {
    await cleanup();
  }
}

const LEASE_S = leaseMs() / 1000;

/** Targets: issue 11's proxies (ratios to the primitive, absolute figures), "not slower than before" (the figures in docs/benchmarks.md before the log), issue 10's PostgreSQL targets. */
const SCENARIOS: Scenario[] = [
  // ---- JSON store, data on the disk ----
  { name: "json.send-1", store: "json", inQuick: true, about: "1 process × 100 sends", run: (o) => sendsScenario("json", 1, 100, o.quick, { p50x: le(1.5), throughput: ge(1352) }) },
  { name: "json.sends-16", store: "json", inQuick: true, decay: "throughput", about: "16 processes × 100 sends to one inbox", run: (o) => sendsScenario("json", 16, o.quick ? 30 : 100, o.quick, { throughput: ge(2603), p99: le(27.7) }) },
  { name: "json.tasks-1", store: "json", inQuick: true, about: "1 process × (100 creates + 200 updates)", run: (o) => tasksScenario("json", 1, 100, o.quick, { p50x: le(1.5), throughput: ge(2874) }) },
  { name: "json.tasks-4", store: "json", inQuick: true, about: "4 processes × (50 creates + 100 updates)", run: (o) => tasksScenario("json", 4, 50, o.quick, { throughput: ge(1260) }) },
  { name: "json.tasks-16", store: "json", inQuick: true, decay: "throughput", about: "16 processes × (50 creates + 100 updates), disk", run: (o) => tasksScenario("json", 16, o.quick ? 15 : 50, o.quick, { throughput: ge(1500), updateP50: le(5), createP99: le(50) }) },
  { name: "json.tasks-16-tmpfs", store: "json-tmpfs", inQuick: true, decay: "throughput", about: "16 processes × (50 creates + 100 updates), tmpfs", run: (o) => tasksScenario("json-tmpfs", 16, o.quick ? 15 : 50, o.quick, { throughput: ge(3000), updateP50: le(5), createP99: le(50) }) },
  { name: "json.read-1", store: "json", inQuick: true, about: "read 1 new message sent by another process, 100 / 1,000 in history", run: (o) => readOneScenario("json", o.quick, le(3)) },
  { name: "json.history-10k", store: "json", inQuick: true, about: "send and empty inbox check with 10,000 messages of history", run: (o) => historyScenario("json", o.quick, { send: le(0.7), empty: le(0.044) }) },
  { name: "json.claims-16", store: "json", inQuick: true, about: "16 processes claim from one work queue (20 tasks each)", run: (o) => claimsScenario("json", 16, o.quick ? 8 : 20, o.quick, { claimP99: le(20) }) },
  { name: "json.wake", store: "json", inQuick: true, about: "idle waiter (fs.watch) woken by a send from another process", run: (o) => wakeScenario("json", o.quick, le(100)) },
  { name: "json.delivery-0.73", store: "json", inQuick: true, about: "send → idle real pi 0.73 starts a run (extension, scripted model)", run: (o) => delivery(o, "json", "0.73", le(8.8)) },
  { name: "json.delivery-0.55", store: "json", inQuick: false, about: "send → idle real pi 0.55 starts a run", run: (o) => delivery(o, "json", "0.55", le(8.0)) },
  { name: "json.stale-lock", store: "json", inQuick: true, about: "named lock of a SIGKILLed holder, 3 waiting", run: () => staleLockScenario("json", le(5)) },
  { name: "json.recovery-local", store: "json", inQuick: true, about: "SIGKILLed task owner on this host (pid) → pending", run: () => recoveryScenario("json", "local", le(5)) },
  { name: "json.recovery-remote", store: "json", inQuick: false, repeats: 1, about: `SIGKILLed task owner on another host (heartbeat, lease ${LEASE_S} s) → pending`, run: () => recoveryScenario("json", "remote", le(40)) },
  { name: "json.costs", store: "json-tmpfs", inQuick: true, about: "what one operation costs, piece by piece (one process, tmpfs)", run: (o) => costsScenario(o.quick) },
  { name: "json.inodes", store: "json", inQuick: true, repeats: 1, about: "new inodes and file calls per operation on the hot paths", run: (o) => inodesScenario(o.quick, le(0)) },
  // ---- PostgreSQL (the bench's own durable cluster) ----
  { name: "pg.send-1", store: "pg", inQuick: true, about: "1 process × 100 sends", run: (o) => sendsScenario("pg", 1, 100, o.quick, { p50x: le(1.5) }) },
  { name: "pg.sends-16", store: "pg", inQuick: true, about: "16 processes × 100 sends to one inbox", run: (o) => sendsScenario("pg", 16, o.quick ? 30 : 100, o.quick, { throughputRef: "json.sends-16:throughput" }) },
  { name: "pg.tasks-1", store: "pg", inQuick: true, about: "1 process × (100 creates + 200 updates)", run: (o) => tasksScenario("pg", 1, 100, o.quick, { p50x: le(1.5) }) },
  { name: "pg.tasks-16", store: "pg", inQuick: true, about: "16 processes × (50 creates + 100 updates)", run: (o) => tasksScenario("pg", 16, o.quick ? 15 : 50, o.quick, { throughputRef: "json.tasks-16:throughput" }) },
  { name: "pg.claims-16", store: "pg", inQuick: true, about: "16 processes claim from one work queue (SKIP LOCKED)", run: (o) => claimsScenario("pg", 16, o.quick ? 8 : 20, o.quick, { claimP99: le(20) }) },
  { name: "pg.read-1", store: "pg", inQuick: true, about: "read 1 new message sent by another process, 100 / 1,000 in history", run: (o) => readOneScenario("pg", o.quick, le(3)) },
  { name: "pg.wake", store: "pg", inQuick: true, about: "idle waiter on one \"host\" woken by a send from another (LISTEN/NOTIFY)", run: (o) => wakeScenario("pg", o.quick, le(100)) },
  { name: "pg.delivery-0.73", store: "pg", inQuick: false, about: "send → idle real pi 0.73 on PostgreSQL starts a run", run: (o) => delivery(o, "pg", "0.73", le(1000)) },
  { name: "pg.stale-lock", store: "pg", inQuick: true, about: "named lock of a SIGKILLed holder, 3 waiting", run: () => staleLockScenario("pg", le(5)) },
  { name: "pg.recovery-local", store: "pg", inQuick: true, about: "SIGKILLed task owner on this host (pid) → pending", run: () => recoveryScenario("pg", "local", le(5)) },
  { name: "pg.recovery-remote", store: "pg", inQuick: false, repeats: 1, about: `SIGKILLed task owner on another host (heartbeat, lease ${LEASE_S} s) → pending`, run: () => recoveryScenario("pg", "remote", le(40)) },
];

/** A mistake on the command line: printed without a stack. */
class UsageError extends Error {}

function usage(): string {
  return [
    "usage: npm run bench -- [--only NAME[,NAME…]] [--quick] [--repeats N] [--out FILE]",
    "  --quick     fewer operations, 1 repeat (unless --repeats), skips the slow scenarios (unless named in --only)",
    "  --repeats   repeats of each scenario (default 3); medians are reported",
    "  --only      these scenarios; a name without its store prefix (sends-16) selects it on both stores; json or pg selects a store",
    ...SCENARIOS.map((s) => `                ${s.name.padEnd(22)} ${s.about}${s.inQuick ? "" : "  (not in --quick)"}`),
    "Data lives in fresh temp dirs and databases; ~/.clanker and the user's databases are never touched.",
  ].join("\n");
}

interface Args { only?: string[]; quick: boolean; repeats?: number; out: string }

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, out: path.resolve(".bench-out/results.json") };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const val = (flag: string) => (x.includes("=") ? x.slice(x.indexOf("=") + 1) : argv[++i]) ?? (() => { throw new UsageError(`${flag} needs a value`); })();
    if (x === "--quick") a.quick = true;
    else if (x === "--only" || x.startsWith("--only=")) a.only = [...(a.only ?? []), ...val("--only").split(",").map((s) => s.trim()).filter(Boolean)];
    else if (x === "--repeats" || x.startsWith("--repeats=")) {
      a.repeats = Number(val("--repeats"));
      if (!Number.isInteger(a.repeats) || a.repeats < 1) throw new UsageError("--repeats must be a whole number ≥ 1");
    } else if (x === "--out" || x.startsWith("--out=")) a.out = path.resolve(val("--out"));
    else if (x === "--help" || x === "-h") { console.log(usage()); process.exit(0); }
    else throw new UsageError(`unknown argument ${x}\n${usage()}`);
  }
  return a;
}

function select(a: Args): Scenario[] {
  if (!a.only) return SCENARIOS.filter((s) => !a.quick || s.inQuick);
  const picked = new Set<Scenario>();
  for (const o of a.only) {
    const hits = SCENARIOS.filter((s) => s.name === o || s.name.split(".")[1] === o || s.name.startsWith(`${o}.`));
    if (!hits.length) throw new UsageError(`unknown scenario "${o}"\n${usage()}`);
    // A whole store by prefix follows --quick; a named scenario always runs.
    for (const h of hits) if (h.name === o || h.name.split(".")[1] === o || !a.quick || h.inQuick) picked.add(h);
  }
  return SCENARIOS.filter((s) => picked.has(s));
}

// ---- aggregation and printing ---------------------------------------------------------

interface Repeat extends RepeatResult { seconds: number; load: [number, number]; error?: string }

interface Aggregate {
  name: string;
  value: number;
  unit: string;
  values: number[];
  target?: Target;
  targetFrom?: string;
  /** A target on another scenario that did not run. */
  targetMissing?: string;
  ratio?: { prim: string; kind: "x" | "share"; value: number; values: number[]; target?: Target };
  met?: boolean;
  ratioMet?: boolean;
}

interface ScenarioResult {
  name: string;
  about: string;
  store: StoreKind;
  skipped?: string;
  repeats: Repeat[];
  prims: Record<string, { label: string; unit: string; value: number; values: number[] }>;
  metrics: Aggregate[];
  checks: Check[];
}

function aggregate(sc: Scenario, reps: Repeat[], done: Map<string, ScenarioResult>): ScenarioResult {
  const prims: ScenarioResult["prims"] = {};
  for (const r of reps) for (const [k, p] of Object.entries(r.prims)) {
    prims[k] ??= { label: p.label, unit: p.unit, value: NaN, values: [] };
    prims[k].values.push(p.value);
  }
  for (const p of Object.values(prims)) p.value = median(p.values);
  const metrics: Aggregate[] = [];
  const first = reps.find((r) => r.metrics.length)?.metrics ?? [];
  for (const m of first) {
    const own = reps.map((r) => r.metrics.find((x) => x.name === m.name)).filter((x): x is Metric => !!x);
    const values = own.map((x) => x.value);
    const agg: Aggregate = { name: m.name, value: median(values), unit: m.unit, values, target: m.target };
    if (m.targetRef) {
      const [scn, metric] = m.targetRef.ref.split(":");
      const ref = done.get(scn)?.metrics.find((x) => x.name === metric);
      if (ref && Number.isFinite(ref.value)) { agg.target = { op: m.targetRef.op, value: ref.value }; agg.targetFrom = scn; }
      else agg.targetMissing = `${opText(m.targetRef.op)} ${scn} (not in this run)`;
    }
    if (m.vs) {
      const rv = reps.map((r) => {
        const x = r.metrics.find((y) => y.name === m.name);
        const p = r.prims[m.vs!.prim];
        return x && p ? x.value / p.value : NaN;
      });
      agg.ratio = { prim: m.vs.prim, kind: m.vs.kind, value: median(rv), values: rv, target: m.vs.target };
      if (m.vs.target) agg.ratioMet = met(agg.ratio.value, m.vs.target);
    }
    if (agg.target) agg.met = met(agg.value, agg.target);
    metrics.push(agg);
  }
  if (sc.decay && reps.length >= 2) {
    const v = reps.map((r) => r.metrics.find((x) => x.name === sc.decay)?.value ?? NaN);
    const d = v[v.length - 1] / v[0];
    const t = ge(0.85);
    metrics.push({ name: `decay: ${sc.decay}, run ${v.length} ÷ run 1`, value: d, unit: "", values: [d], target: t, met: met(d, t) });
  }
  const checks: Check[] = [];
  for (const [i, r] of reps.entries()) {
    if (r.error) checks.push({ name: `repeat ${i + 1} ran to completion`, ok: false, detail: r.error.split("\n").slice(0, 4).join(" | ") });
    for (const c of r.checks) {
      const prev = checks.find((x) => x.name === c.name);
      if (!prev) checks.push({ ...c, detail: reps.length > 1 && !c.ok ? `repeat ${i + 1}: ${c.detail ?? ""}` : c.detail });
      else if (prev.ok && !c.ok) Object.assign(prev, { ok: false, detail: `repeat ${i + 1}: ${c.detail ?? ""}` });
    }
  }
  return { name: sc.name, about: sc.about, store: sc.store, repeats: reps, prims, metrics, checks };
}

function fmt(v: number, unit = ""): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const s = a >= 1000 ? Math.round(v).toLocaleString("en") : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v === 0 ? "0" : v.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

const opText = (op: string) => (op === ">=" ? "≥" : "≤");

function ratioText(r: NonNullable<Aggregate["ratio"]>): string {
  return r.kind === "x" ? `${fmt(r.value)}× ${r.prim}` : `${fmt(r.value)} of ${r.prim}`;
}

function printResult(r: ScenarioResult): void {
  const secs = r.repeats.reduce((a, x) => a + x.seconds, 0);
  const loads = r.repeats.flatMap((x) => x.load);
  const head = r.skipped ? "skipped" : `${r.repeats.length} repeat${r.repeats.length > 1 ? "s" : ""}, ${secs.toFixed(1)} s, load ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))}`;
  console.log(`\n== ${r.name}: ${r.about}   [${head}]`);
  if (r.skipped) { console.log(`   ${r.skipped}`); return; }
  for (const [k, p] of Object.entries(r.prims)) {
    console.log(`   primitive ${k.padEnd(14)} ${fmt(p.value, p.unit).padStart(12)}   ${p.values.length > 1 ? `(${p.values.map((v) => fmt(v)).join(" ")})`.padEnd(22) : "".padEnd(22)} ${p.label}`);
  }
  for (const m of r.metrics) {
    const reps = m.values.length > 1 ? `(${m.values.map((v) => fmt(v)).join(" ")})` : "";
    const ratio = m.ratio ? ratioText(m.ratio) : "";
    const tgt = m.ratio?.target ? `${opText(m.ratio.target.op)} ${fmt(m.ratio.target.value)}${m.ratio.kind === "x" ? "×" : ""} ${m.ratio.prim}` : m.target ? `${opText(m.target.op)} ${fmt(m.target.value, m.unit)}${m.targetFrom ? ` (${m.targetFrom})` : ""}` : m.targetMissing ?? "";
    const ok = m.ratio?.target ? m.ratioMet : m.met;
    const status = ok === undefined ? "" : ok ? "ok" : "MISSED";
    console.log(`   ${m.name.padEnd(38)} ${fmt(m.value, m.unit).padStart(14)}  ${reps.padEnd(26)} ${ratio.padEnd(22)} ${tgt.padEnd(30)} ${status}`);
    if (m.ratio?.target && m.target) console.log(`   ${"".padEnd(38)} ${"".padStart(14)}  ${"".padEnd(26)} ${"".padEnd(22)} ${`${opText(m.target.op)} ${fmt(m.target.value, m.unit)}`.padEnd(30)} ${m.met ? "ok" : "MISSED"}`);
  }
  for (const c of r.checks) console.log(`   ${c.ok ? "PASS" : "FAIL"}  ${c.name}${c.detail ? `  (${c.detail})` : ""}`);
}

/** Every missed target, as "scenario: metric". */
function missedOf(r: ScenarioResult): string[] {
  return r.metrics.filter((m) => m.met === false || m.ratioMet === false).map((m) => `${r.name}: ${m.name}`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Nothing may fall back to ~/.clanker or a database of the user's.
  process.env.CLANKER_TEAMS_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-teams-bench-unused-"));
  delete process.env.CLANKER_TEAMS_DB;
  const scenarios = select(args);
  const repeats = args.repeats ?? (args.quick ? 1 : 3);
  const opts: BenchOptions = { quick: args.quick };
  const noPg = scenarios.some((s) => s.store === "pg") ? pgUnavailable() : undefined;
  const noTmpfs = scenarios.some((s) => s.store === "json-tmpfs") && !tmpfsAvailable() ? "/dev/shm is not a writable tmpfs here" : undefined;
  const load0 = os.loadavg();
  console.log(`clanker-teams bench${args.quick ? " (quick)" : ""}, ${repeats} repeat(s): ${scenarios.map((s) => s.name).join(", ")}`);
  console.log(`node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${os.platform()} ${os.release()}, disk ${os.tmpdir()}, load ${load0.map((l) => l.toFixed(2)).join(" ")}`);
  if (noPg) console.log(`PostgreSQL scenarios skipped: ${noPg}`);
  const results: ScenarioResult[] = [];
  const byName = new Map<string, ScenarioResult>();
  const t0 = Date.now();
  try {
    for (const sc of scenarios) {
      const skip = sc.store === "pg" ? noPg : sc.store === "json-tmpfs" ? noTmpfs : undefined;
      if (skip) {
        const r: ScenarioResult = { name: sc.name, about: sc.about, store: sc.store, skipped: skip, repeats: [], prims: {}, metrics: [], checks: [] };
        results.push(r);
        printResult(r);
        continue;
      }
      const reps: Repeat[] = [];
      const n = args.repeats ?? sc.repeats ?? repeats;
      for (let i = 0; i < n; i++) {
        const l0 = os.loadavg()[0];
        const start = Date.now();
        let rep: Repeat;
        try {
          const r = await sc.run(opts);
          rep = { ...r, seconds: (Date.now() - start) / 1000, load: [round(l0, 2), round(os.loadavg()[0], 2)] };
        } catch (e) {
          rep = { metrics: [], prims: {}, checks: [], error: (e as Error).stack ?? String(e), seconds: (Date.now() - start) / 1000, load: [round(l0, 2), round(os.loadavg()[0], 2)] };
        }
        reps.push(rep);
        const fig = rep.metrics[0];
        process.stdout.write(`   ${sc.name} repeat ${i + 1}/${n}: ${rep.error ? `ERROR ${rep.error.split("\n")[0]}` : fig ? `${fig.name} ${fmt(fig.value, fig.unit)}` : "done"} (${rep.seconds.toFixed(1)} s, load ${fmt(rep.load[0])})\n`);
      }
      const r = aggregate(sc, reps, byName);
      results.push(r);
      byName.set(r.name, r);
      printResult(r);
    }
  } finally {
    stopBenchCluster();
  }

  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.name}: ${c.name}`));
  const missed = results.flatMap(missedOf);
  // The summary: every figure with a target or a primitive, one line each.
  console.log(`\n== summary (medians; ratio = figure ÷ primitive of the same repeat)`);
  for (const r of results) {
    for (const m of r.metrics) {
      if (!m.target && !m.ratio && !m.targetMissing) continue;
      const ok = m.ratio?.target ? m.ratioMet && m.met !== false : m.met;
      const tgt = [m.ratio?.target ? `${opText(m.ratio.target.op)} ${fmt(m.ratio.target.value)}${m.ratio.kind === "x" ? "×" : ""}` : "", m.target ? `${opText(m.target.op)} ${fmt(m.target.value, m.unit)}${m.targetFrom ? ` (${m.targetFrom})` : ""}` : m.targetMissing ?? ""].filter(Boolean).join(", ");
      console.log(`   ${`${r.name}: ${m.name}`.padEnd(58)} ${fmt(m.value, m.unit).padStart(14)}  ${(m.ratio ? ratioText(m.ratio) : "").padEnd(24)} ${tgt.padEnd(26)} ${ok === undefined ? "" : ok ? "ok" : "MISSED"}`);
    }
  }
  const load1 = os.loadavg();
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify({
    when: new Date().toISOString(),
    quick: args.quick,
    repeats,
    minutes: round((Date.now() - t0) / 60000, 1),
    machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, platform: `${os.platform()} ${os.release()}`, disk: os.tmpdir(), loadBefore: load0, loadAfter: load1 },
    results,
    summary: { failedChecks: failed, missedTargets: missed },
  }, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? round(v, 4) : v), 2) + "\n");
  fs.rmSync(process.env.CLANKER_TEAMS_DIR!, { recursive: true, force: true });
  console.log(`\n${results.length} scenario(s) in ${((Date.now() - t0) / 60000).toFixed(1)} min, load ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)}; ${missed.length} target(s) MISSED${missed.length ? `: ${missed.join("; ")}` : ""}; ${failed.length} correctness check(s) FAILED${failed.length ? `: ${failed.join("; ")}` : ""}`);
  console.log(`results: ${path.relative(process.cwd(), args.out)}`);
  return failed.length ? 1 : 0;
}


main().then((code) => process.exit(code), (e) => {
  console.error(e instanceof UsageError ? e.message : (e as Error).stack ?? (e as Error).message);
  stopBenchCluster();
  process.exit(2);
});
