/** Spawning test/procs/worker.mjs: line-by-line output, readiness, kill. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { PROCS } from "./fixtures.js";

export interface Worker {
  child: ChildProcess;
  lines: string[];
  stderr: string;
  /** Resolves when the process has exited and its output has been read (with its code or signal). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a line matching `re` appeared. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
}

/** Starts the worker with `args` against data dir `dir`. */
export function startWorker(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Worker {
  const child = spawn(process.execPath, [path.join(PROCS, "worker.mjs"), ...args], {
    env: { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const w: Worker = {
    child,
    lines: [],
    stderr: "",
    // "close", not "exit": exit can come before the last of the process's output has been read.
    done: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal }))),
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const hit = w.lines.find((l) => re.test(l));
        if (hit) return resolve(hit);
        const timer = setTimeout(() => { cleanup(); reject(new Error(`worker ${args.join(" ")}: no line matching ${re} within ${ms} ms; stderr: ${w.stderr.slice(-2000)}`)); }, ms);
        const onLine = (l: string) => { if (re.test(l)) { cleanup(); resolve(l); } };
        const onExit = () => { cleanup(); const h = w.lines.find((l) => re.test(l)); if (h) resolve(h); else reject(new Error(`worker ${args.join(" ")} exited before ${re}; stderr: ${w.stderr.slice(-2000)}`)); };
        const cleanup = () => { clearTimeout(timer); listeners.delete(onLine); child.off("close", onExit); };
        listeners.add(onLine);
        child.once("close", onExit);
      });
    },
  };
  const listeners = new Set<(l: string) => void>();
  let buf = "";
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      w.lines.push(line);
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

/** Starts workers with --wait, waits until all are loaded, then releases them at once (so they really race). */
export async function race(dir: string, argsList: string[][], env: NodeJS.ProcessEnv = {}): Promise<Worker[]> {
  const workers = argsList.map((args) => startWorker(dir, [...args, "--wait"], env));
  await Promise.all(workers.map((w) => w.waitFor(/^ready$/, 60_000)));
  for (const w of workers) w.child.stdin!.write("go\n");
  await runAll(workers);
  return workers;
}
