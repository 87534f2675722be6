/**
 * The dashboard's test harness: the real `clanker-teams dashboard` command in
 * its own process, agents in processes of their own (agent.mjs, the CLI), and
 * the screenshot directory of docs/dashboard.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, ROOT } from "../helpers/fixtures.js";
import { startWorker, type Worker } from "../helpers/procs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the test run writes the screenshots docs/dashboard.md shows. */
export const SHOTS = path.join(ROOT, "docs", "dashboard");

export interface DashProc {
  url: string;
  origin: string;
  child: ChildProcess;
  stderr(): string;
  /** Ctrl-C, as a person would; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `clanker-teams dashboard ARGS` with `env` (the store's) and waits for the address it prints. */
export async function startDashboardProc(env: NodeJS.ProcessEnv, args: string[]): Promise<DashProc> {
  const child = spawn(process.execPath, [CLI, "dashboard", ...args], { env: { ...process.env, CLANKER_AGENT_NAME: "", NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`dashboard printed no address within 20 s; stderr: ${err}`)), 20_000);
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const line = out.split("\n").find((l) => l.startsWith("http://"));
      if (line) { clearTimeout(timer); resolve(line.trim()); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`dashboard exited ${code} before printing its address: ${err}`)); });
  });
  return {
    url,
    origin: new URL(url).origin,
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      return exited;
    },
  };
}

/** An agent process acting as `name` (agent.mjs); `presence` keeps it live in that state and delivers its mail. */
export function startAgent(env: NodeJS.ProcessEnv, team: string, name: string, presence?: string): Worker {
  return startWorker("", [team, name, ...(presence ? ["--presence", presence] : [])], env, path.relative(path.join(ROOT, "test", "procs"), path.join(here, "agent.mjs")));
}

/** Runs one tool in the agent process; fails with the tool's error. */
export async function agentCall(w: Worker, tool: string, args: Record<string, unknown>): Promise<{ text: string; details: any }> {
  const before = w.lines.length;
  w.child.stdin!.write(JSON.stringify({ tool, args }) + "\n");
  const start = Date.now();
  for (;;) {
    const line = w.lines.slice(before).find((l) => l.startsWith("result "));
    if (line) {
      w.lines.splice(w.lines.indexOf(line), 1);
      const r = JSON.parse(line.slice(7));
      if (!r.ok) throw new Error(`${tool} as agent: ${r.error}`);
      return r;
    }
    if (Date.now() - start > 20_000) throw new Error(`${tool}: no result within 20 s; stderr: ${w.stderr}`);
    if (w.child.exitCode !== null) throw new Error(`agent exited ${w.child.exitCode}: ${w.stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Ends an agent process (closing its stdin: it marks its presence stopped and exits). */
export async function stopAgent(w: Worker): Promise<void> {
  if (w.child.exitCode === null) w.child.stdin!.end();
  await w.done;
}
