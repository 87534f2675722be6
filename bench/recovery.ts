/**
 * Benchmark 5 (issue 5): SIGKILL a teammate that holds a claimed task; time
 * until the task is `pending` again, with a lead loop calling
 * recoverAbandoned every second (as the lead extension does).
 * local:  presence on this host, detected by pid.
 * remote: presence claims another host (pid not checkable); the heartbeat ages out.
 */
import { makeCtx, createTeam, addMember, createTask, getTask, readEvents, readInbox, recoverAbandoned, HEARTBEAT_DEAD_MS } from "../src/index.js";
import { Worker, freshDataDir, nowAbs, removeDir, round, sleep, type BenchOptions, type BenchResult, type Check } from "./util.js";

export async function benchRecovery(_opts: BenchOptions, mode: "local" | "remote"): Promise<BenchResult> {
  const dataDir = freshDataDir(`recovery-${mode}`);
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  await createTeam(lead, { team_name: team });
  await addMember(lead, team, { name: "w1", role: "teammate" });
  const task = await createTask(lead, team, { subject: "long job", description: "held by a teammate that will be killed" });
  const heartbeatMs = mode === "local" ? 1000 : 5000;
  const owner = new Worker({
    role: "owner",
    dataDir,
    args: { team, name: "w1", taskId: task.id, heartbeatMs, ...(mode === "remote" ? { host: "bench-other-host.invalid" } : {}) },
  });

  // The lead's sweep loop: every second, independent of when the kill happens.
  let sweeping = true;
  let sweeps = 0;
  let sweepErrors = 0;
  const sweepMs: number[] = [];
  const loop = (async () => {
    while (sweeping) {
      const t0 = nowAbs();
      try { await recoverAbandoned(lead, team); } catch { sweepErrors++; }
      sweeps++;
      sweepMs.push(nowAbs() - t0);
      await sleep(1000);
    }
  })();

  const checks: Check[] = [];
  try {
    await owner.ready();
    owner.go();
    await owner.event("claimed");
    const claimed = getTask(lead, team, task.id);
    checks.push({ name: "task claimed by the owner", ok: claimed.owner === "w1" && claimed.status === "in_progress", detail: `${claimed.status}/${claimed.owner}` });
    // Let it live through a few heartbeats (and sweeps that must NOT release it), then kill it right after a heartbeat.
    const liveFor = mode === "local" ? 3 : 2;
    for (let i = 0; i < liveFor; i++) await owner.event("heartbeat");
    const stillHeld = getTask(lead, team, task.id);
    checks.push({ name: "live owner keeps its claim", ok: stillHeld.owner === "w1" && stillHeld.status === "in_progress", detail: `${stillHeld.status}/${stillHeld.owner}` });
    const killedAt = nowAbs();
    owner.kill("SIGKILL");
    const limit = mode === "local" ? 15_000 : 60_000;
    let pendingAt: number | undefined;
    while (nowAbs() - killedAt < limit) {
      const t = getTask(lead, team, task.id);
      if (t.status === "pending" && !t.owner) { pendingAt = nowAbs(); break; }
      await sleep(10);
    }
    const seconds = pendingAt === undefined ? Infinity : (pendingAt - killedAt) / 1000;
    checks.push({ name: "task back to pending, owner cleared", ok: pendingAt !== undefined, detail: pendingAt === undefined ? `still not pending after ${limit / 1000} s` : `${round(seconds, 2)} s` });
    await sleep(50);
    const ev = readEvents(lead, team).filter((e) => e.kind === "task.recovered");
    checks.push({ name: "task.recovered event logged", ok: ev.length === 1, detail: ev[0] ? String(ev[0].data.reason) : "none" });
    const msgs = (await readInbox(lead, team)).messages.filter((m) => m.kind === "tasks_recovered");
    checks.push({ name: "lead told which task came back", ok: msgs.length === 1 && msgs[0].content.includes(`#${task.id}`), detail: msgs[0]?.summary ?? "no message" });
    return {
      name: `recovery-${mode}`,
      title: mode === "local" ? "SIGKILLed owner on this host (pid check) → pending" : `SIGKILLed owner on "another host" (heartbeat ${heartbeatMs / 1000} s, dead after ${HEARTBEAT_DEAD_MS / 1000} s) → pending`,
      metrics: [{ name: "kill → pending", value: round(seconds, 2), unit: "s", target: { op: "<=", value: mode === "local" ? 5 : 40 } }],
      checks,
      details: { heartbeatMs, sweepEveryMs: 1000, sweeps, sweepErrors, sweepMeanMs: round(sweepMs.reduce((a, b) => a + b, 0) / Math.max(1, sweepMs.length), 2), killedRightAfterHeartbeat: true },
    };
  } finally {
    sweeping = false;
    owner.kill();
    await loop;
    removeDir(dataDir);
  }
}
