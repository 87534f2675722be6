/**
 * The JSON store's locks with real processes (README: "a lock left by a
 * killed process is taken over within 5 s"): a SIGKILLed holder of a config
 * edit or of a named lock (the spawn lock) blocks others for at most 5 s; a
 * live holder keeps its lock however long it takes; racing takers of one
 * stale lock get in one at a time.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { cleanupTemp, teamWith, tempDir, world } from "./helpers/fixtures.js";
import { release, runAll, startWorker, type Worker } from "./helpers/procs.js";
import { addMember, readTeam } from "../src/domain/teams.js";
import { JsonStore } from "../src/store/json/index.js";
import { STALE_MS } from "../src/store/json/lock.js";

afterAll(cleanupTemp);

/** test/procs/store-worker.mjs on the data dir `dir`, one job. */
const storeJob = (dir: string, job: string[], env: NodeJS.ProcessEnv = {}): Worker => startWorker(dir, job, { CLANKER_TEAMS_DB: "", ...env }, "store-worker.mjs");
const resultOf = (wk: Worker) => JSON.parse(wk.lines.find((l) => l.startsWith("result "))!.slice(7));

describe("a dead holder's lock", () => {
  it("a config edit killed while holding the config's lock: the next member is added within 5 s of the kill", async () => {
    const w = world();
    await teamWith(w, "t");
    const holder = startWorker(w.dir, ["hold-config", "t"]);
    await holder.waitFor(/^holding$/, 60_000);
    expect(fs.existsSync(`${w.layout.teamConfig("t")}.lock`)).toBe(true);
    holder.kill();
    await holder.done;
    const t0 = Date.now();
    await addMember(w.as(), "t", { name: "dev", role: "teammate" });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await readTeam(w.as(), "t")).members.map((m) => m.name)).toEqual(["team-lead", "dev"]);
  }, 60_000);

  it("a named lock (the spawn lock) of a killed holder is taken within 5 s of the kill", async () => {
    const w = world();
    await teamWith(w, "t");
    const holder = storeJob(w.dir, ["hold", "t", "spawn:dev"]);
    await holder.waitFor(/^locked$/, 60_000);
    holder.kill();
    await holder.done;
    const t0 = Date.now();
    expect(await new JsonStore({ dataDir: w.dir }).withLock("t", "spawn:dev", async () => "mine")).toBe("mine");
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 60_000);
});

describe("a live holder", () => {
  it(`keeps its lock however long it holds it (longer than the ${STALE_MS} ms stale bound): the waiter gives up with LOCKED, never takes it over`, async () => {
    const w = world();
    await teamWith(w, "t");
    const holder = storeJob(w.dir, ["hold", "t", "spawn:dev"]);
    await holder.waitFor(/^locked$/, 60_000);
    const waiter = storeJob(w.dir, ["lock-once", "t", "spawn:dev"], { CLANKER_TEAMS_LOCK_WAIT_MS: String(STALE_MS + 2000) });
    await runAll([waiter]);
    holder.kill();
    await holder.done;
    const r = resultOf(waiter);
    expect(r).toMatchObject({ ok: false, code: "LOCKED" });
    expect(r.waited).toBeGreaterThanOrEqual(STALE_MS + 2000);
    expect(r.message).toMatch(/stayed locked for \d+ s; another process is holding it and keeps it fresh/);
  }, 60_000);
});

describe("stale lock takeover", () => {
  it("6 processes find the same stale lock at once: one holder at a time (no lost increment)", async () => {
    const w = world();
    await teamWith(w, "t");
    const lockDir = `${w.layout.namedLock("t", "spawn:dev")}.lock`;
    // A holder died long ago: its lock directory is older than the stale bound.
    fs.mkdirSync(lockDir, { recursive: true });
    const old = new Date(Date.now() - STALE_MS - 5000);
    fs.utimesSync(lockDir, old, old);
    const counter = path.join(tempDir(), "counter");
    fs.writeFileSync(counter, "0");
    const ws = await release(Array.from({ length: 6 }, () => storeJob(w.dir, ["locked-count", "t", "spawn:dev", counter, "10", "--wait"])));
    await runAll(ws);
    expect(fs.readFileSync(counter, "utf8")).toBe("60");
    expect(fs.existsSync(lockDir)).toBe(false);
    expect(fs.existsSync(`${lockDir}.takeover`)).toBe(false);
  }, 120_000);
});
