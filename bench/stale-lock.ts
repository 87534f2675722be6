/** Benchmark 4: an inbox lock left by a SIGKILLed holder; time until other processes' sends succeed. */
import { makeCtx, createTeam, addMember, readInbox } from "../src/index.js";
import { STALE_MS } from "../src/store/lock.js";
import { Worker, freshDataDir, nowAbs, removeDir, round, sleep, type BenchOptions, type BenchResult, type Check } from "./util.js";

export async function benchStaleLock(_opts: BenchOptions): Promise<BenchResult> {
  const dataDir = freshDataDir("stale-lock");
  const team = "bench";
  const lead = makeCtx({ dataDir, actor: "team-lead" });
  await createTeam(lead, { team_name: team });
  const senders = 3;
  for (let i = 1; i <= senders; i++) await addMember(lead, team, { name: `w${i}`, role: "teammate" });
  const inboxFile = lead.paths.inbox(team, "team-lead");

  const holder = new Worker({ role: "lockholder", dataDir, args: { file: inboxFile } });
  const sendWorkers = Array.from({ length: senders }, (_, i) => new Worker({ role: "sender", dataDir, args: { team, name: `w${i + 1}`, to: "team-lead" } }));
  const checks: Check[] = [];
  try {
    await Promise.all([holder.ready(), ...sendWorkers.map((w) => w.ready())]);
    holder.go();
    await holder.event("locked");
    // Hold a while (the holder refreshes the lock's mtime every second), then kill it mid-hold.
    await sleep(1500);
    // The senders are already waiting on the lock when the holder dies.
    for (const w of sendWorkers) w.go();
    await sleep(200);
    const killedAt = nowAbs();
    holder.kill("SIGKILL");
    const done = await Promise.all(sendWorkers.map((w) => w.done()));
    const after = done.map((d) => d.end - killedAt);
    const inbox = await readInbox(lead, team);
    const got = inbox.messages.filter((m) => m.summary === "stale-lock send").length;
    checks.push({ name: `all ${senders} waiting sends delivered`, ok: got === senders, detail: `${got}` });
    return {
      name: "stale-lock",
      title: "inbox lock left by a SIGKILLed holder",
      metrics: [
        { name: "first send after kill", value: round(Math.min(...after) / 1000, 2), unit: "s", target: { op: "<=", value: 10 } },
        { name: "last send after kill", value: round(Math.max(...after) / 1000, 2), unit: "s" },
      ],
      checks,
      details: { staleMs: STALE_MS, sendersWaiting: senders, afterKillMs: after.map((a) => round(a, 1)) },
    };
  } finally {
    holder.kill();
    await Promise.all(sendWorkers.map((w) => w.close()));
    removeDir(dataDir);
  }
}
