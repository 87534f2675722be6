import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import os from "node:os";
import { HEARTBEAT_DEAD_MS, liveness, pidAlive, readPresence, recoverAbandoned, writePresence, removePresence } from "../src/domain/presence.js";
import { claimTask, createTask, getTask, listTasks, updateTask } from "../src/domain/tasks.js";
import { readInbox } from "../src/domain/messages.js";
import { readEvents } from "../src/domain/events.js";
import { callTool } from "../src/tools/table.js";
import type { Runtime } from "../src/schemas.js";
import { cleanupTemp, teamWith, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

const iso = (ms: number) => new Date(ms).toISOString();

/** A pid that certainly does not exist any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

async function claimed(w: World, owner: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await createTask(w.as(), "t", { subject: `T${i}`, description: "" });
  for (let i = 0; i < n; i++) await claimTask(w.as(owner), "t");
}

describe("liveness", () => {
  const now = 1_000_000;
  /** A presence; times as ms here, stored as ISO strings. */
  const rt = (p: Omit<Partial<Runtime>, "heartbeatAt" | "startedAt"> & { heartbeatAt?: number; startedAt?: number } = {}): Runtime => {
    const { heartbeatAt = now, startedAt = now, ...rest } = p;
    return { agent: "a", pid: process.pid, host: os.hostname(), state: "busy", ...rest, heartbeatAt: iso(heartbeatAt), startedAt: iso(startedAt) };
  };
  it("fresh heartbeat and live pid: alive", () => expect(liveness(rt(), now)).toMatchObject({ alive: true, state: "busy" }));
  it("heartbeat older than 30 s: dead, even with a live pid elsewhere", () => {
    expect(liveness(rt({ host: "other-host", heartbeatAt: now - HEARTBEAT_DEAD_MS - 1 }), now)).toMatchObject({ alive: false, state: "dead" });
    expect(liveness(rt({ host: "other-host", heartbeatAt: now - HEARTBEAT_DEAD_MS + 1000 }), now).alive).toBe(true);
  });
  it("dead pid on this host: dead at once, whatever the heartbeat", () => {
    expect(liveness(rt({ pid: deadPid() }), now)).toMatchObject({ alive: false, state: "dead" });
  });
  it("a pid given to a newer process (the agent died, the pid was reused) is dead; the agent's own process is not", () => {
    const real = Date.now();
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      // The presence says the agent started a minute ago, but the process holding its pid started just now.
      expect(liveness(rt({ pid: child.pid!, startedAt: real - 60_000, heartbeatAt: real }), real)).toMatchObject({ alive: false, state: "dead", reason: expect.stringMatching(/belongs to a newer process/) });
      // Started at (or after) the process, as a real agent's presence is: alive.
      expect(liveness(rt({ pid: child.pid!, startedAt: real + 1000, heartbeatAt: real }), real).alive).toBe(true);
      expect(liveness(rt({ pid: process.pid, startedAt: real, heartbeatAt: real }), real).alive).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a pid on another host is not checked here", () => expect(liveness(rt({ pid: deadPid(), host: "elsewhere" }), now).alive).toBe(true));
  it("stopped and missing", () => {
    expect(liveness(rt({ state: "stopped" }), now).alive).toBe(false);
    expect(liveness(undefined, now)).toMatchObject({ alive: false, state: "unknown" });
  });
  it("a running agent whose model fails: alive, state error with the reason; the reason outlives its death", () => {
    const failing = rt({ state: "error", error: "401 invalid x-api-key" });
    expect(liveness(failing, now)).toEqual({ alive: true, state: "error", reason: "its model fails: 401 invalid x-api-key" });
    expect(liveness({ ...failing, heartbeatAt: iso(now - 20_000) }, now)).toMatchObject({ alive: true, state: "stalled", reason: expect.stringContaining("401 invalid x-api-key") });
    expect(liveness({ ...failing, pid: deadPid() }, now)).toMatchObject({ alive: false, state: "dead", reason: expect.stringMatching(/^process \d+ is gone; its last error: 401 invalid x-api-key$/) });
    expect(liveness(rt({ state: "stopped", error: "exit code 1 after: boom" }), now)).toEqual({ alive: false, state: "stopped", reason: "exited: exit code 1 after: boom" });
    expect(liveness(rt({ state: "stopped" }), now).reason).toBe("exited cleanly");
  });
  it("pidAlive", () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(deadPid())).toBe(false);
    expect(pidAlive(0)).toBe(false);
    expect(pidAlive(-1)).toBe(false);
  });
});

describe("presence files", () => {
  it("writePresence merges patches; removePresence deletes", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await writePresence(w.as("dev"), "t", "dev", { state: "idle", pane: "%1" });
    w.clock.advance(1000);
    await writePresence(w.as("dev"), "t", "dev", { heartbeatAt: iso(w.clock.now), state: "busy" });
    expect(await readPresence(w.as(), "t", "dev")).toMatchObject({ agent: "dev", pid: process.pid, pane: "%1", state: "busy", heartbeatAt: iso(w.clock.now) });
    await removePresence(w.as(), "t", "dev");
    expect(await readPresence(w.as(), "t", "dev")).toBeUndefined();
  });

  it("state error with a reason is stored and read back; clearing the reason removes it", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await writePresence(w.as("dev"), "t", "dev", { state: "error", error: "429 rate limit" });
    expect(await readPresence(w.as(), "t", "dev")).toMatchObject({ state: "error", error: "429 rate limit" });
    await writePresence(w.as("dev"), "t", "dev", { state: "idle", error: undefined });
    const back = (await readPresence(w.as(), "t", "dev"))!;
    expect(back.state).toBe("idle");
    expect("error" in back).toBe(false);
  });

  it("a running teammate in state error is not swept: its tasks stay claimed", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await claimed(w, "dev");
    await writePresence(w.as("dev"), "t", "dev", { host: "remote-box", pid: 1, state: "error", error: "401", heartbeatAt: iso(w.clock.now) });
    expect(await recoverAbandoned(w.as(), "t")).toEqual([]);
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ owner: "dev", status: "in_progress" });
  });
});

describe("recoverAbandoned (injected clock)", () => {
  it("heartbeat older than 30 s → the owner's tasks go back to pending, logged, the lead told", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await writePresence(w.as("dev"), "t", "dev", { host: "remote-box", pid: 424242, state: "busy", heartbeatAt: iso(w.clock.now) });
    await claimed(w, "dev", 2);
    await readInbox(w.as(), "t");
    w.clock.advance(HEARTBEAT_DEAD_MS - 1000);
    expect(await recoverAbandoned(w.as(), "t")).toEqual([]);
    w.clock.advance(2000);
    const rec = await recoverAbandoned(w.as(), "t");
    expect(rec.map((r) => [r.owner, r.tasks.map((t) => t.id)])).toEqual([["dev", ["1", "2"]]]);
    expect(rec[0].reason).toMatch(/^dev is dead \(no heartbeat on remote-box for 31 s\)$/);
    for (const id of ["1", "2"]) {
      const t = await getTask(w.as(), "t", id);
      expect(t.status).toBe("pending");
      expect(t.owner).toBeUndefined();
    }
    // One event per task, each logged with the change that put the task back.
    expect((await readEvents(w.as(), "t")).filter((e) => e.kind === "task.recovered").map((e) => [e.data.owner, e.data.ids])).toEqual([["dev", ["1"]], ["dev", ["2"]]]);
    const lead = (await readInbox(w.as(), "t")).messages;
    expect(lead.map((m) => m.kind)).toEqual(["tasks_recovered"]);
    expect(lead[0].content).toMatch(/^Tasks #1 "T0", #2 "T1" of dev are pending again \(owner cleared\): dev is dead/);
    // A second sweep finds nothing more.
    expect(await recoverAbandoned(w.as(), "t")).toEqual([]);
  });

  it("the lease is CLANKER_TEAMS_LEASE_MS when set, judged by the store's clock", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await writePresence(w.as("dev"), "t", "dev", { host: "remote-box", pid: 424242, state: "busy" });
    await claimed(w, "dev");
    const lead = w.as("team-lead", { env: { ...w.env, CLANKER_TEAMS_LEASE_MS: "5000" } });
    w.clock.advance(4000);
    expect(await recoverAbandoned(lead, "t")).toEqual([]);
    w.clock.advance(2000);
    expect((await recoverAbandoned(lead, "t")).map((r) => r.reason)).toEqual(["dev is dead (no heartbeat on remote-box for 6 s)"]);
    expect((await getTask(lead, "t", "1")).status).toBe("pending");
  });

  it("a dead pid on this host → released at once", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await writePresence(w.as("dev"), "t", "dev", { pid: deadPid(), state: "busy" });
    await claimed(w, "dev");
    const rec = await recoverAbandoned(w.as(), "t");
    expect(rec[0].reason).toMatch(/process \d+ is gone/);
    expect((await listTasks(w.as(), "t"))[0]).toMatchObject({ status: "pending" });
  });

  it("a fresh heartbeat keeps the claim however long the task takes", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await claimed(w, "dev");
    for (let i = 0; i < 150; i++) { // ~1 hour of 25 s heartbeats
      w.clock.advance(25_000);
      await writePresence(w.as("dev"), "t", "dev", { host: "remote-box", pid: 1, state: "busy", heartbeatAt: iso(w.clock.now) });
      if (i % 30 === 0) expect(await recoverAbandoned(w.as(), "t")).toEqual([]);
    }
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ owner: "dev", status: "in_progress" });
  });

  it("owners without a presence file (humans at the CLI) are left alone; completed tasks are never touched", async () => {
    const w = world();
    await teamWith(w, "t", ["dev", "qa"]);
    await claimed(w, "dev");
    await createTask(w.as(), "t", { subject: "done", description: "" });
    await claimTask(w.as("qa"), "t", "2");
    await updateTask(w.as("qa"), "t", "2", { status: "completed" });
    await writePresence(w.as("qa"), "t", "qa", { pid: deadPid() });
    w.clock.advance(10 * 60_000);
    expect(await recoverAbandoned(w.as(), "t")).toEqual([]);
    expect((await getTask(w.as(), "t", "1")).owner).toBe("dev");
    expect(await getTask(w.as(), "t", "2")).toMatchObject({ owner: "qa", status: "completed" });
  });

  it("task_list and task_claim sweep lazily; a late owner cannot complete the task someone else now holds", async () => {
    const w = world();
    await teamWith(w, "t", ["dev", "qa"]);
    await writePresence(w.as("dev"), "t", "dev", { pid: deadPid() });
    await claimed(w, "dev");
    const claim = await callTool(w.as("qa"), "task_claim", { team_name: "t" });
    expect(claim.text).toMatch(/Recovered #1: dev is dead/);
    expect((claim.details.task as { id: string; owner: string })).toMatchObject({ id: "1", owner: "qa" });
    await expect(updateTask(w.as("dev"), "t", "1", { status: "completed" })).rejects.toThrow(/owned by qa, not you \(dev\)/);
    const list = await callTool(w.as(), "task_list", { team_name: "t" });
    expect(list.text).toContain("#1 [in_progress] T0 — qa");
  });
});
