/** Checking and ending a pane's process by pid, for terminals that cannot tell us themselves. */

import { readFileSync } from "node:fs";
import { execa } from "execa";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True if a process with this pid exists and is not a zombie. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  if (process.platform !== "linux") return false;
  try {
    // Field 3 of /proc/<pid>/stat, after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Send `signal` to the process group led by `pid` (panes start their program as a group leader), else to pid. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
    return;
  } catch {
    // No such group: fall through to the pid itself.
  }
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Resolve true once `pid` is gone, false if it is still there after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

export interface TerminateOptions {
  /** How long the program gets to exit after SIGTERM before SIGKILL (default 2000 ms). */
  graceMs?: number;
  /** Called between SIGTERM and SIGKILL if the process is still running (e.g. close the pane). */
  beforeKill?: () => Promise<void>;
}

/** SIGTERM the pid's process group, wait, then SIGKILL it; resolves true when the pid is gone. */
export async function terminate(pid: number, options: TerminateOptions = {}): Promise<boolean> {
  if (!isPidAlive(pid)) return true;
  signalGroup(pid, "SIGTERM");
  if (await waitForExit(pid, options.graceMs ?? 2000)) return true;
  await options.beforeKill?.();
  if (!isPidAlive(pid)) return true;
  signalGroup(pid, "SIGKILL");
  return waitForExit(pid, 2000);
}

/** Every live descendant of `roots` (children, grandchildren, …), from `ps -A -o pid=,ppid=`; [] if ps fails. */
export async function descendants(roots: number[]): Promise<number[]> {
  const r = await execa("ps", ["-A", "-o", "pid=,ppid="], { reject: false });
  if (r.exitCode !== 0) return [];
  const children = new Map<number, number[]>();
  for (const line of String(r.stdout).split("\n")) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (!pid || ppid === undefined || Number.isNaN(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const todo = [...roots];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      if (!out.includes(c) && !roots.includes(c)) { out.push(c); todo.push(c); }
    }
  }
  return out.filter(isPidAlive);
}

/**
 * Stop a whole process tree: freeze every descendant of `roots` (SIGSTOP, repeated
 * until no new one appears, so none escapes by being re-parented), then SIGTERM and
 * SIGCONT them all, wait `graceMs`, SIGKILL what is left. The roots themselves are
 * not signalled. Returns the pids that were found and whether any survived.
 */
export async function stopTree(roots: number[], graceMs = 2000): Promise<{ pids: number[]; survivors: number[] }> {
  const send = (pid: number, sig: NodeJS.Signals) => { try { process.kill(pid, sig); } catch { /* gone */ } };
  const pids: number[] = [];
  for (let round = 0; round < 20; round++) {
    const found = (await descendants(roots)).filter((p) => !pids.includes(p));
    if (!found.length) break;
    for (const p of found) { send(p, "SIGSTOP"); pids.push(p); }
  }
  for (const p of pids) send(p, "SIGTERM");
  for (const p of pids) send(p, "SIGCONT");
  const deadline = Date.now() + graceMs;
  while (pids.some(isPidAlive) && Date.now() < deadline) await sleep(50);
  for (const p of pids.filter(isPidAlive)) send(p, "SIGKILL");
  const killDeadline = Date.now() + 2000;
  while (pids.some(isPidAlive) && Date.now() < killDeadline) await sleep(25);
  return { pids, survivors: pids.filter(isPidAlive) };
}
