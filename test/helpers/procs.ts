/** Spawning the test workers (test/procs/*.mjs): line-by-line output, readiness, release, kill. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { PROCS } from "./fixtures.js";

export interface Worker {
  child: ChildProcess;
  /** Output lines, the "ready" line left out. */
  lines: string[];
  stderr: string;
  /** Resolves when the worker printed "ready" (it is loaded; with --wait it now waits for go()). */
  ready: Promise<void>;
  /** Resolves when the process has exited and its output has been read (with its code or signal). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a line matching `re` appeared ("ready" included). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Releases a worker started with --wait. */
  go(): void;
  kill(): void;
}

/** Starts test/procs/`script` with `args` against data dir `dir`. */
export function startWorker(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, script = "worker.mjs"): Worker {
  const child = spawn(process.execPath, [path.join(PROCS, script), ...args], {
    env: { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let sawReady = false;
  let onReady!: () => void;
  const seen = (re: RegExp) => (sawReady && re.test("ready") ? "ready" : w.lines.find((l) => re.test(l)));
  const w: Worker = {
    child,
    lines: [],
    stderr: "",
    ready: new Promise((r) => (onReady = r)),
    // "close", not "exit": exit can come before the last of the process's output has been read.
    done: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal }))),
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const hit = seen(re);
        if (hit) return resolve(hit);
        const timer = setTimeout(() => { cleanup(); reject(new Error(`worker ${args.join(" ")}: no line matching ${re} within ${ms} ms; stderr: ${w.stderr.slice(-2000)}`)); }, ms);
        const onLine = (l: string) => { if (re.test(l)) { cleanup(); resolve(l); } };
        const onExit = () => { cleanup(); const h = seen(re); if (h) resolve(h); else reject(new Error(`worker ${args.join(" ")} exited before ${re}; stderr: ${w.stderr.slice(-2000)}`)); };
        const cleanup = () => { clearTimeout(timer); listeners.delete(onLine); child.off("close", onExit); };
        listeners.add(onLine);
        child.once("close", onExit);
      });
    },
    go: () => child.stdin!.write("go\n"),
    kill: () => child.kill("SIGKILL"),
  };
  const listeners = new Set<(l: string) => void>();
  let buf = "";
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === "ready") {
        sawReady = true;
        onReady();
      } else w.lines.push(line);
      for (const l of [...listeners]) l(line);
    }
  });
  child.stderr!.on("data", (b: Buffer) => (w.stderr += b.toString("utf8")));
  return w;
}

/** Runs workers to completion; fails with their stderr if any exits non-zero. */
export async function runAll(workers: Worker[]): Promise<void> {
  const results = await Promise.all(workers.map((w) => w.done));
  results.forEach((r, i) => {
    if (r.code !== 0) throw new Error(`worker ${i} exited ${r.code ?? r.signal}: ${workers[i].stderr.slice(-3000)}`);
  });
}

/** Waits until all workers (started with --wait) are loaded, then releases them at once, so that they really race. */
export async function release(workers: Worker[]): Promise<Worker[]> {
  await Promise.all(workers.map((w) => w.waitFor(/^ready$/, 60_000)));
  for (const w of workers) w.go();
  return workers;
}

/** Starts `script` workers with --wait, releases them together and runs them to completion. */
export async function race(dir: string, argsList: string[][], env: NodeJS.ProcessEnv = {}, script = "worker.mjs"): Promise<Worker[]> {
  const workers = await release(argsList.map((args) => startWorker(dir, [...args, "--wait"], env, script)));
  await runAll(workers);
  return workers;
}
