/** Shared helpers for the benchmarks: clocks, statistics, worker processes with a start barrier, result types. */
import { fork, type ChildProcess } from "node:child_process";
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

/** The median of a list (mean of the middle two for an even count); NaN when empty. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function roundStats(s: Stats): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)]));
}

// ---- worker processes -------------------------------------------------------------

/** Messages a worker sends back over IPC. */
export type FromWorker =
  | { type: "ready" }
  | { type: "event"; name: string; at: number; data?: unknown }
  | { type: "done"; id: number; phase: string; start: number; end: number; cpuMs: number; sysMs: number; io: number; ioLat: number[]; result: unknown }
  | { type: "error"; id?: number; message: string };

export type Done = Extract<FromWorker, { type: "done" }>;

/** Where a worker's store is: a JSON data directory or a PostgreSQL URL. */
export interface StoreRef { dataDir?: string; db?: string }

export interface WorkerSpec {
  role: string;
  store: StoreRef;
  args: Record<string, unknown>;
  /** Extra environment (e.g. CLANKER_TEAMS_HOST for another "host"). */
  env?: Record<string, string>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) try { c.kill("SIGKILL"); } catch { /* gone */ }
});

/**
 * A forked bench/worker.js: init → (set-up, warm-up) → ready; then any number
 * of `run(phase)` calls, each answered by done; `close()` asks it to exit.
 */
export class Worker {
  readonly child: ChildProcess;
  private waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  private backlog: FromWorker[] = [];
  private listeners = new Set<(m: FromWorker) => void>();
  private nextId = 1;
  exited = false;
  readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly spec: WorkerSpec) {
    const script = new URL("./worker.js", import.meta.url);
    const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
    // The worker opens exactly the store it is given; nothing may fall back to ~/.clanker or a user's database.
    delete env.CLANKER_TEAMS_DB;
    if (spec.store.dataDir) env.CLANKER_TEAMS_DIR = spec.store.dataDir;
    this.child = fork(script, [], {
      env,
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
      for (const l of this.listeners) l(m);
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
    this.child.send({ type: "init", role: spec.role, store: spec.store, args: spec.args });
  }

  /** Resolves with the first message (queued or future) matching `pred`. */
  wait<T extends FromWorker>(pred: (m: FromWorker) => boolean): Promise<T> {
    const err = this.backlog.find((m) => m.type === "error");
    if (err && err.type === "error") return Promise.reject(new Error(`worker ${this.spec.role}: ${err.message}`));
    const i = this.backlog.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.backlog.splice(i, 1)[0] as T);
    if (this.exited) return Promise.reject(new Error(`worker ${this.spec.role} already exited`));
    return new Promise<T>((resolve, reject) => this.waiters.push({ pred, resolve: resolve as (m: FromWorker) => void, reject }));
  }

  /** Calls `fn` for every message from now on (events streamed by waiters). */
  onMessage(fn: (m: FromWorker) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  ready(): Promise<FromWorker> { return this.wait((m) => m.type === "ready"); }
  event(name: string): Promise<Extract<FromWorker, { type: "event" }>> { return this.wait((m) => m.type === "event" && m.name === name); }

  /** Starts a phase; the promise resolves when the worker has done it. */
  run(phase: string, args: Record<string, unknown> = {}): Promise<Done> {
    const id = this.nextId++;
    const p = this.wait<Done>((m) => m.type === "done" && m.id === id);
    this.child.send({ type: "run", id, phase, args });
    return p;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Asks the worker to exit (it leaves its store's files current, as every process does) and waits for it. */
  async close(): Promise<void> {
    if (this.exited) return;
    try { this.child.send({ type: "exit" }); } catch { this.kill(); }
    const t = setTimeout(() => this.kill(), 15_000);
    await this.exitPromise;
    clearTimeout(t);
  }
}

/** Workers started and ready (set-up and warm-up done: process start-up is never measured). */
export async function startWorkers(specs: WorkerSpec[]): Promise<Worker[]> {
  const workers = specs.map((s) => new Worker(s));
  try {
    await Promise.all(workers.map((w) => w.ready()));
  } catch (e) {
    await closeAll(workers);
    throw e;
  }
  return workers;
}

/** Runs one phase in every worker at once (they are all idle and ready: the start barrier) and waits for all. */
export function phaseAll(workers: Worker[], phase: string, args: (i: number) => Record<string, unknown> = () => ({})): Promise<Done[]> {
  return Promise.all(workers.map((w, i) => w.run(phase, args(i))));
}

export async function closeAll(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.close()));
}

/** Wall time of a phase across workers: first start to last end, on the shared clock. */
export function wallMs(done: Done[]): number {
  return Math.max(...done.map((d) => d.end)) - Math.min(...done.map((d) => d.start));
}

// ---- results -------------------------------------------------------------------------

/** A physical-limit primitive measured in the same repeat as the scenario. */
export interface Prim {
  /** e.g. "disk: O_APPEND write + fdatasync, 300 B" */
  label: string;
  value: number;
  unit: string;
  details?: Record<string, unknown>;
}

export interface Target { op: ">=" | "<="; value: number }

/** One figure of a scenario. */
export interface Metric {
  name: string;
  value: number;
  unit: string;
  /** Absolute target on the value. */
  target?: Target;
  /** Target on another scenario's figure in the same run ("scenario:metric"), e.g. PostgreSQL ≥ JSON. */
  targetRef?: { op: ">=" | "<="; ref: string };
  /**
   * Compared with a primitive of the same repeat: "x" = value ÷ primitive
   * (a latency as a multiple of one durable write), "share" = value ÷
   * primitive (a throughput as a fraction of the primitive's).
   */
  vs?: { prim: string; kind: "x" | "share"; target?: Target };
}

export interface Check { name: string; ok: boolean; detail?: string }

/** What one repeat of a scenario returns. */
export interface RepeatResult {
  metrics: Metric[];
  prims: Record<string, Prim>;
  checks: Check[];
  details?: Record<string, unknown>;
}

export interface BenchOptions { quick: boolean }

export function met(value: number, t: Target): boolean {
  return t.op === ">=" ? value >= t.value : value <= t.value;
}
