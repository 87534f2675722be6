/** Shared helpers for the benchmarks: clocks, statistics, temp data dirs, worker processes with a start barrier. */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";

/** Wall-clock ms with sub-ms resolution, comparable across processes on one host. */
export function nowAbs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Stats { n: number; mean: number; p50: number; p90: number; p99: number; max: number; min: number }

/** Percentiles by nearest rank over a copy of the samples (ms). */
export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return { n: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, min: NaN };
  const at = (q: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  return { n, mean: s.reduce((a, b) => a + b, 0) / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[n - 1], min: s[0] };
}

/** A fresh private data dir for one benchmark (never ~/.clanker). */
export function freshDataDir(name: string): string {
  const root = path.join(os.tmpdir(), "clanker-teams-bench");
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  return fs.mkdtempSync(path.join(root, `${name}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Messages a worker sends back over IPC. */
export type FromWorker =
  | { type: "ready" }
  | { type: "event"; name: string; at: number; data?: unknown }
  | { type: "done"; start: number; end: number; result: unknown }
  | { type: "error"; message: string };

export interface WorkerSpec { role: string; dataDir: string; args: Record<string, unknown> }

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) try { c.kill("SIGKILL"); } catch { /* gone */ }
});

/** A forked bench/worker.js process speaking the init → ready → go → done protocol. */
export class Worker {
  readonly child: ChildProcess;
  private waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  private backlog: FromWorker[] = [];
  exited = false;
  readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(spec: WorkerSpec) {
    const script = new URL("./worker.js", import.meta.url);
    this.child = fork(script, [], {
      env: { ...process.env, CLANKER_TEAMS_DIR: spec.dataDir },
      // e.g. CLANKER_BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the workers.
      execArgv: (process.env.CLANKER_BENCH_WORKER_ARGS ?? "").split(/\s+/).filter(Boolean),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
    });
    live.add(this.child);
    this.exitPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exited = true;
        live.delete(this.child);
        const err = new Error(`worker ${spec.role} exited (code ${code}, signal ${signal}) before answering`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        resolve({ code, signal });
      });
    });
    this.child.on("message", (m: FromWorker) => {
      if (m.type === "error") {
        const err = new Error(`worker ${spec.role}: ${m.message}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        this.backlog.push(m);
        return;
      }
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
      else this.backlog.push(m);
    });
    this.child.send({ type: "init", role: spec.role, dataDir: spec.dataDir, args: spec.args });
  }

  /** Resolves with the first message (queued or future) matching `pred`. */
  wait<T extends FromWorker>(pred: (m: FromWorker) => boolean): Promise<T> {
    const err = this.backlog.find((m) => m.type === "error");
    if (err && err.type === "error") return Promise.reject(new Error(err.message));
    const i = this.backlog.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.backlog.splice(i, 1)[0] as T);
    if (this.exited) return Promise.reject(new Error("worker already exited"));
    return new Promise<T>((resolve, reject) => this.waiters.push({ pred, resolve: resolve as (m: FromWorker) => void, reject }));
  }

  ready(): Promise<FromWorker> { return this.wait((m) => m.type === "ready"); }
  event(name: string): Promise<Extract<FromWorker, { type: "event" }>> { return this.wait((m) => m.type === "event" && m.name === name); }
  done(): Promise<Extract<FromWorker, { type: "done" }>> { return this.wait((m) => m.type === "done"); }
  go(): void { this.child.send({ type: "go", at: nowAbs() }); }
  send(msg: unknown): void { this.child.send(msg as never); }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Asks the worker to exit and waits for it. */
  async close(): Promise<void> {
    if (this.exited) return;
    try { this.child.send({ type: "exit" }); } catch { this.kill(); }
    const t = setTimeout(() => this.kill(), 5000);
    await this.exitPromise;
    clearTimeout(t);
  }
}

/** Starts workers, waits until all are ready (start-up not measured), then releases them together. */
export async function runBarrier(specs: WorkerSpec[]): Promise<{ workers: Worker[]; done: Extract<FromWorker, { type: "done" }>[] }> {
  const workers = specs.map((s) => new Worker(s));
  try {
    await Promise.all(workers.map((w) => w.ready()));
    for (const w of workers) w.go();
    const done = await Promise.all(workers.map((w) => w.done()));
    return { workers, done };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** One row of the printed table. */
export interface Metric {
  name: string;
  value: number;
  unit: string;
  /** e.g. { op: ">=", value: 1300 } */
  target?: { op: ">=" | "<="; value: number };
}

export interface Check { name: string; ok: boolean; detail?: string }

export interface BenchResult {
  name: string;
  title: string;
  metrics: Metric[];
  checks: Check[];
  /** Anything else worth keeping in results.json (latency distributions, profiles). */
  details?: Record<string, unknown>;
  durationMs?: number;
  error?: string;
}

export function metricMet(m: Metric): boolean | undefined {
  if (!m.target) return undefined;
  return m.target.op === ">=" ? m.value >= m.target.value : m.value <= m.target.value;
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export interface BenchOptions { quick: boolean }
