/**
 * Benchmark 4: a task's lock left by a SIGKILLed holder; time until other
 * processes' updates of that task succeed. (Sends take no lock at all: they
 * are not held up by a dead process's inbox lock; see `sends`.)
 */
import { makeCtx, createTeam, addMember, createTask, getTask } from "../src/index.js";
import { STALE_MS } from "../src/store/lock.js";
import { taskLockPath } from "../src/task-index.js";
import { Worker, freshDataDir, nowAbs, removeDir, round, sleep, type BenchOptions, type BenchResult, type Check } from "./util.js";

export async function benchStaleLock(_opts: BenchOptions): Promise<BenchResult> {
  const dataDir = freshDataDir("stale-lock");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  await createTeam(lead, { team_name: team });
  const updaters = 3;
  for (let i = 1; i <= updaters; i++) await addMember(lead, team, { name: `w${i}`, role: "teammate" });
  const task = await createTask(lead, team, { subject: "contended task", description: "" });

  const holder = new Worker({ role: "lockholder", dataDir, args: { file: taskLockPath(lead, team, task.id) } });
  const workers = Array.from({ length: updaters }, (_, i) => new Worker({ role: "updater", dataDir, args: { team, name: `w${i + 1}`, taskId: task.id } }));
  const checks: Check[] = [];
  try {
    await Promise.all([holder.ready(), ...workers.map((w) => w.ready())]);
    holder.go();
    await holder.event("locked");
    // Hold a while (the holder refreshes the lock's mtime every second), then kill it mid-hold.
    await sleep(1500);
    // The updaters are already waiting on the lock when the holder dies.
    for (const w of workers) w.go();
    await sleep(200);
    const killedAt = nowAbs();
    holder.kill("SIGKILL");
    const done = await Promise.all(workers.map((w) => w.done()));
    const after = done.map((d) => d.end - killedAt);
    const final = getTask(lead, team, task.id);
    checks.push({ name: `all ${updaters} waiting updates done after the kill, none before`, ok: after.every((a) => a > 0) && /after the stale lock/.test(final.activeForm ?? ""), detail: `activeForm ${JSON.stringify(final.activeForm)}` });
    return {
      name: "stale-lock",
      title: "task lock left by a SIGKILLed holder",
      metrics: [
        { name: "first update after kill", value: round(Math.min(...after) / 1000, 2), unit: "s", target: { op: "<=", value: 10 } },
        { name: "last update after kill", value: round(Math.max(...after) / 1000, 2), unit: "s" },
      ],
      checks,
      details: { staleMs: STALE_MS, updatersWaiting: updaters, afterKillMs: after.map((a) => round(a, 1)) },
    };
  } finally {
    holder.kill();
    await Promise.all(workers.map((w) => w.close()));
    removeDir(dataDir);
  }
}
