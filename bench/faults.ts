/**
 * Recovery from dead processes: a named lock (e.g. the spawn lock) whose
 * holder was SIGKILLed, and a task whose owner was SIGKILLed, on this host
 * (the pid check) and on "another host" (only the heartbeat: the lease).
 */
import fs from "node:fs";
import { createTask, readEvents, readInbox, recoverAbandoned, leaseMs } from "../src/index.js";
import { HEARTBEAT_EVERY_MS } from "../src/domain/presence.js";
import { TEAM, hostEnv, makeTeam, whereLabel, withStore } from "./common.js";
import { freshDir, type StoreKind } from "./stores.js";
import { Worker, closeAll, nowAbs, round, sleep, startWorkers, type Check, type RepeatResult, type Target } from "./util.js";

/** A named lock held by a process that is SIGKILLed while 3 others wait for it. */
export async function staleLockScenario(kind: StoreKind, target: Target): Promise<RepeatResult> {
  return withStore(kind, "stale-lock", async (s) => {
    const lead = s.ctx("team-lead");
    await makeTeam(lead, TEAM, []);
    const name = "spawn:w1";
    const waiters = await startWorkers(Array.from({ length: 3 }, () => ({ role: "lockwaiter", store: s.ref, args: { team: TEAM, name } })));
    const [holder] = await startWorkers([{ role: "lockholder", store: s.ref, args: { team: TEAM, name } }]);
    const checks: Check[] = [];
    try {
      void holder.run("hold").catch(() => undefined);
      await holder.event("locked");
      // Held a while (the holder keeps it fresh), then the waiters queue up, then the holder dies.
      await sleep(1500);
      const taken = waiters.map((w) => w.run("take"));
      await sleep(200);
      const killedAt = nowAbs();
      holder.kill("SIGKILL");
      const done = await Promise.all(taken);
      const after = done.map((d) => (d.result as { at: number }).at - killedAt);
      checks.push({ name: "all 3 waiters got the lock after the kill, none before", ok: after.every((a) => a > 0), detail: after.map((a) => `${round(a / 1000, 2)} s`).join(", ") });
      return {
        metrics: [
          { name: "first waiter has the lock, after the kill", value: Math.min(...after) / 1000, unit: "s", target },
          { name: "last waiter has it", value: Math.max(...after) / 1000, unit: "s" },
        ],
        prims: {},
        checks,
        details: { afterKillMs: after.map((a) => round(a, 1)), where: whereLabel(kind) },
      };
    } finally {
      holder.kill();
      await closeAll([...waiters, holder]);
    }
  });
}

/**
 * A teammate process claims a task and heartbeats; it is SIGKILLed right
 * after a heartbeat; the lead's sweep (recoverAbandoned every second, as the
 * lead's extension runs it) puts the task back. local: same host, the pid
 * check; remote: presence on another host, the heartbeat ages past the lease.
 */
export async function recoveryScenario(kind: StoreKind, mode: "local" | "remote", target: Target): Promise<RepeatResult> {
  return withStore(kind, `recovery-${mode}`, async (s) => {
    const lead = s.ctx("team-lead");
    await makeTeam(lead, TEAM, ["w1"]);
    const task = await createTask(lead, TEAM, { subject: "long job", description: "held by a teammate that will be killed" });
    const heartbeatMs = mode === "local" ? 1000 : HEARTBEAT_EVERY_MS;
    const scratch = freshDir("json", "recovery-hosts");
    const owner = new Worker({ role: "owner", store: s.ref, args: { team: TEAM, name: "w1", taskId: task.id, heartbeatMs }, env: mode === "remote" ? hostEnv(s, "bench-other-host.invalid", scratch) : {} });
    let sweeping = true;
    let sweeps = 0;
    let sweepErrors = 0;
    const loop = (async () => {
      while (sweeping) {
        try { await recoverAbandoned(lead, TEAM); } catch { sweepErrors++; }
        sweeps++;
        await sleep(1000);
      }
    })();
    const checks: Check[] = [];
    try {
      await owner.ready();
      await owner.run("claim");
      const claimed = await lead.store.getTask(TEAM, task.id);
      checks.push({ name: "task claimed by the owner", ok: claimed?.owner === "w1" && claimed.status === "in_progress", detail: `${claimed?.status}/${claimed?.owner}` });
      // A few heartbeats (and sweeps that must NOT release it), then the kill right after a heartbeat.
      for (let i = 0; i < (mode === "local" ? 3 : 2); i++) await owner.event("heartbeat");
      const held = await lead.store.getTask(TEAM, task.id);
      checks.push({ name: "a live owner keeps its claim", ok: held?.owner === "w1" && held.status === "in_progress", detail: `${held?.status}/${held?.owner}` });
      const killedAt = nowAbs();
      owner.kill("SIGKILL");
      const limit = mode === "local" ? 15_000 : leaseMs() + 30_000;
      let pendingAt: number | undefined;
      while (nowAbs() - killedAt < limit) {
        const t = await lead.store.getTask(TEAM, task.id);
        if (t?.status === "pending" && !t.owner) { pendingAt = nowAbs(); break; }
        await sleep(10);
      }
      const seconds = pendingAt === undefined ? Infinity : (pendingAt - killedAt) / 1000;
      checks.push({ name: "task back to pending, owner cleared", ok: pendingAt !== undefined, detail: pendingAt === undefined ? `still not pending after ${limit / 1000} s` : `${round(seconds, 2)} s` });
      await sleep(100);
      const ev = (await readEvents(lead, TEAM)).filter((e) => e.kind === "task.recovered" || e.kind === "task.released");
      checks.push({ name: "the recovery is logged once", ok: ev.length === 1, detail: ev.map((e) => `${e.kind}: ${String(e.data.reason ?? "")}`).join("; ") || "none" });
      const msgs = (await readInbox(lead, TEAM)).messages.filter((m) => m.content.includes(`#${task.id}`));
      checks.push({ name: "the lead is told which task came back", ok: msgs.length === 1, detail: msgs[0]?.summary ?? "no message" });
      return {
        metrics: [{ name: "kill → task pending", value: seconds, unit: "s", target }],
        prims: {},
        checks,
        details: { heartbeatMs, leaseMs: leaseMs(), sweepEveryMs: 1000, sweeps, sweepErrors, where: whereLabel(kind) },
      };
    } finally {
      sweeping = false;
      owner.kill();
      await loop;
      await owner.exitPromise;
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
}
