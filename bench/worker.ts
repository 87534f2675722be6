/**
 * Child process for the multi-process benchmarks. Protocol over IPC:
 * parent → {init, role, dataDir, args}; worker does its set-up and answers
 * {ready}; parent → {go} (the start barrier); worker runs and answers
 * {done, start, end, result}; parent → {exit}.
 */
import { performance } from "node:perf_hooks";
import {
  makeCtx, sendMessage, createTask, getTask, updateTask, claimTask, writePresence, listTasks,
  type Ctx, type UpdateTaskInput,
} from "../src/index.js";
import { withLock } from "../src/store/lock.js";
import { appendText } from "../src/store/json-file.js";
import { installLockProbe, lockProfile, resetLockProfile } from "./lock-probe.js";
import { nowAbs, sleep, type FromWorker } from "./util.js";

type Init = { type: "init"; role: string; dataDir: string; args: Record<string, unknown> };

function post(m: FromWorker): void {
  process.send?.(m);
}

let goResolve!: () => void;
const go = new Promise<void>((r) => (goResolve = r));

process.on("message", (m: { type: string }) => {
  if (m.type === "init") void main(m as Init);
  else if (m.type === "go") goResolve();
  else if (m.type === "exit") process.exit(0);
});
process.on("disconnect", () => process.exit(0));

async function main(init: Init): Promise<void> {
  try {
    installLockProbe();
    const roles: Record<string, (init: Init) => Promise<void>> = { sends, tasks, locker, lockholder, sender, updater, owner };
    const role = roles[init.role];
    if (!role) throw new Error(`unknown role ${init.role}`);
    await role(init);
  } catch (e) {
    post({ type: "error", message: (e as Error).stack ?? String(e) });
    setTimeout(() => process.exit(1), 100);
  }
}

/** CPU time (user + system) this process used since `from`, in ms. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

function ctxFor(init: Init, actor: string): Ctx {
  return makeCtx({ dataDir: init.dataDir, actor });
}

/** Benchmark 1: `count` sends from `name` to `to`, one latency sample per send. */
async function sends(init: Init): Promise<void> {
  const { team, name, to, count, warmupTo } = init.args as { team: string; name: string; to: string; count: number; warmupTo: string };
  const ctx = ctxFor(init, name);
  // Warm-up (JIT, zod, directory cache) to another inbox, so the measured inbox gets exactly count messages.
  await sendMessage(ctx, team, { recipient: warmupTo, content: `warm-up from ${name}`, summary: "warm-up" });
  resetLockProfile();
  post({ type: "ready" });
  await go;
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = nowAbs();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await sendMessage(ctx, team, { recipient: to, content: `${name}#${i}`, summary: `bench send ${i}` });
    lat.push(performance.now() - t0);
  }
  const end = nowAbs();
  post({ type: "done", start, end, result: { lat, cpuMs: cpuMs(cpu0), locks: lockProfile() } });
}

interface Expected { id: string; subject: string; description: string; status: string; owner?: string; activeForm?: string }

/** Benchmark 2: `creates` task creates, then 2 updates per task (claim-ish, then a progress/description/complete follow-up). */
async function tasks(init: Init): Promise<void> {
  const { team, warmTeam, name, creates } = init.args as { team: string; warmTeam?: string; name: string; creates: number };
  const ctx = ctxFor(init, name);
  // Warm-up of the read path (config + index parse) without writing anything to the measured team.
  listTasks(ctx, team);
  if (warmTeam) {
    // And of the write paths, on another team: one create, a claim, a progress update.
    const wt = await createTask(ctx, warmTeam, { subject: `warm-up of ${name}`, description: "" });
    await updateTask(ctx, warmTeam, wt.id, { owner: name, status: "in_progress" });
    await updateTask(ctx, warmTeam, wt.id, { active_form: "warming up" });
  }
  resetLockProfile();
  post({ type: "ready" });
  await go;
  const createLat: number[] = [];
  const updateLat: number[] = [];
  const updateKinds: Record<string, number[]> = { claim: [], active_form: [], description: [], complete: [] };
  const expected: Expected[] = [];
  const cpu0 = process.cpuUsage();
  const start = nowAbs();
  for (let j = 0; j < creates; j++) {
    const subject = `${name} task ${j}`;
    const description = `original description of ${name}/${j}`;
    const t0 = performance.now();
    const t = await createTask(ctx, team, { subject, description });
    createLat.push(performance.now() - t0);
    expected.push({ id: t.id, subject, description, status: "pending" });
  }
  const upd = async (kind: string, e: Expected, input: UpdateTaskInput) => {
    const t0 = performance.now();
    await updateTask(ctx, team, e.id, input);
    const dt = performance.now() - t0;
    updateLat.push(dt);
    updateKinds[kind].push(dt);
  };
  // Interleaved like a working agent: claim task j, then follow up on task j-1.
  const followUp = async (j: number) => {
    const e = expected[j];
    const r = j % 10;
    if (r < 5) {
      const af = `${name}: working on step ${j}`;
      await upd("active_form", e, { active_form: af });
      e.activeForm = af;
    } else if (r < 8) {
      const d = `edited description of ${name}/${j}: now with acceptance criteria`;
      await upd("description", e, { description: d });
      e.description = d;
    } else {
      await upd("complete", e, { status: "completed" });
      e.status = "completed";
    }
  };
  for (let j = 0; j < creates; j++) {
    const e = expected[j];
    await upd("claim", e, { owner: name, status: "in_progress" });
    e.owner = name;
    e.status = "in_progress";
    if (j > 0) await followUp(j - 1);
  }
  if (creates > 0) await followUp(creates - 1);
  const end = nowAbs();
  post({ type: "done", start, end, result: { createLat, updateLat, updateKinds, expected, cpuMs: cpuMs(cpu0), locks: lockProfile() } });
}

/** Lock hand-off benchmark: `count` times withLock(file) around one small append (no fsync). */
async function locker(init: Init): Promise<void> {
  const { file, log, count, name } = init.args as { file: string; log: string; count: number; name: string };
  await withLock(file, () => undefined); // warm-up
  resetLockProfile();
  post({ type: "ready" });
  await go;
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = nowAbs();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await withLock(file, () => appendText(log, `${name} ${i}\n`));
    lat.push(performance.now() - t0);
  }
  const end = nowAbs();
  post({ type: "done", start, end, result: { lat, cpuMs: cpuMs(cpu0), locks: lockProfile() } });
}

/** Benchmark 4: take the lock of args.file and hold it (sleeping) until SIGKILLed. */
async function lockholder(init: Init): Promise<void> {
  const { file } = init.args as { file: string };
  post({ type: "ready" });
  await go;
  const keepAlive = setInterval(() => undefined, 1000);
  await withLock(file, async () => {
    post({ type: "event", name: "locked", at: nowAbs() });
    await new Promise(() => undefined); // hold forever
  });
  clearInterval(keepAlive);
}

/** Benchmark 4: one send after `go`; reports when it succeeded. */
async function sender(init: Init): Promise<void> {
  const { team, name, to } = init.args as { team: string; name: string; to: string };
  const ctx = ctxFor(init, name);
  await sendMessage(ctx, team, { recipient: to, content: "warm-up", summary: "warm-up" }); // before the lock is taken
  post({ type: "ready" });
  await go;
  const start = nowAbs();
  await sendMessage(ctx, team, { recipient: to, content: `after the stale lock, from ${name}`, summary: "stale-lock send" });
  const end = nowAbs();
  post({ type: "done", start, end, result: { locks: lockProfile() } });
}

/** Benchmark 4: one update of a task whose lock a killed process left behind. */
async function updater(init: Init): Promise<void> {
  const { team, name, taskId } = init.args as { team: string; name: string; taskId: string };
  const ctx = ctxFor(init, name);
  getTask(ctx, team, taskId); // warm-up, before the lock is taken
  post({ type: "ready" });
  await go;
  const start = nowAbs();
  await updateTask(ctx, team, taskId, { active_form: `updated by ${name} after the stale lock` });
  const end = nowAbs();
  post({ type: "done", start, end, result: { locks: lockProfile() } });
}

/** Benchmark 5: a teammate with presence + heartbeats that claims a task, then waits to be killed. */
async function owner(init: Init): Promise<void> {
  const { team, name, taskId, host, heartbeatMs } = init.args as { team: string; name: string; taskId: string; host?: string; heartbeatMs: number };
  const ctx = ctxFor(init, name);
  const beat = async () => {
    await writePresence(ctx, team, name, { pid: process.pid, state: "busy", heartbeatAt: Date.now(), ...(host ? { host } : {}) });
    post({ type: "event", name: "heartbeat", at: nowAbs() });
  };
  await writePresence(ctx, team, name, { pid: process.pid, state: "busy", startedAt: Date.now(), heartbeatAt: Date.now(), currentTask: taskId, ...(host ? { host } : {}) });
  post({ type: "ready" });
  await go;
  const r = await claimTask(ctx, team, taskId);
  if (!r.task) throw new Error(`claim failed: ${r.reason}`);
  post({ type: "event", name: "claimed", at: nowAbs() });
  // Heartbeats as the extension keeps them.
  for (;;) {
    await sleep(heartbeatMs);
    await beat();
  }
}
