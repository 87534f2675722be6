/**
 * The TeamStore's promises under concurrency, shown with real OS processes
 * (test/procs/store-worker.mjs, each opening the store from its environment as
 * a teammate on another host would), against every store.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { timeMs } from "../../src/schemas.js";
import type { TeamStore } from "../../src/store/types.js";
import { cleanupTemp, tempDir, until } from "../helpers/fixtures.js";
import { runAll } from "../helpers/procs.js";
import { config, failure, KINDS, newTask, resultOf, settle, storeWorker, subject, WorkerPool, type Subject } from "./stores.js";

const N_PROCS = 8;
let pool: WorkerPool;
beforeAll(async () => {
  pool = await WorkerPool.start(N_PROCS);
});
afterAll(async () => {
  await pool?.close();
  await settle();
  cleanupTemp();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(KINDS)("%s store, many processes", (kind) => {
  let s: Subject;
  let store: TeamStore;
  beforeEach(async () => {
    s = await subject(kind);
    store = s.store;
    await store.createTeam(config("t"));
  });
  afterEach(async () => {
    await s.close();
  });

  /** Runs the jobs on the pool's processes, started together; their results. */
  const race = (jobs: string[][]) => pool.race(s, jobs);

  it("8 processes creating tasks at once: ids 1..8N, each exactly once, each with its event, seqs gapless", async () => {
    const n = 25;
    const out = await race(Array.from({ length: N_PROCS }, (_, p) => ["create", "t", String(n), `w${p}`]));
    const all = out.flatMap((r) => r.ids as string[]);
    expect(all.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: N_PROCS * n }, (_, i) => i + 1));
    for (const r of out) {
      const mine = (r.ids as string[]).map(Number);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    const rows = await store.listTasks("t");
    expect(rows).toHaveLength(N_PROCS * n);
    // The id a worker was told is the task it built.
    out.forEach((r, p) => (r.ids as string[]).forEach((id, i) => expect(rows[Number(id) - 1]).toMatchObject({ id, subject: `w${p}-${i}` })));
    const evs = await store.readEvents("t");
    expect(evs.map((e) => e.seq)).toEqual(Array.from({ length: N_PROCS * n }, (_, i) => i + 1));
    expect(evs.map((e) => Number(e.data.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: N_PROCS * n }, (_, i) => i + 1));
  });

  it("8 processes taking work from one queue (editFirst): every task taken once, no task has two owners", async () => {
    const n = 40;
    for (let i = 0; i < n; i++) await store.createTask("t", (id) => ({ task: newTask(id, `job ${i}`) }));
    const ids = Array.from({ length: n }, (_, i) => String(i + 1)).join(",");
    const out = await race(Array.from({ length: N_PROCS }, (_, p) => ["claim", "t", ids, `w${p}`]));
    const claims = out.flatMap((r, p) => (r.claimed as string[]).map((id) => ({ id, by: `w${p}` })));
    expect(claims.map((c) => Number(c.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const c of claims) expect((await store.getTask("t", c.id))!).toMatchObject({ owner: c.by, status: "in_progress" });
    const claimedEvents = (await store.readEvents("t")).filter((e) => e.kind === "task.claimed");
    expect(claimedEvents).toHaveLength(n);
    expect(new Set(claimedEvents.map((e) => e.data.id)).size).toBe(n);
  });

  it("8 processes editing different fields of one task: no field is lost", async () => {
    await store.createTask("t", (id) => ({ task: newTask(id, "hot") }));
    const n = 20;
    await race(Array.from({ length: N_PROCS }, (_, p) => ["field", "t", "1", `f${p}`, String(n)]));
    const t = (await store.getTask("t", "1")) as Record<string, unknown>;
    for (let p = 0; p < N_PROCS; p++) expect([`f${p}`, t[`f${p}`]]).toEqual([`f${p}`, n]);
    expect(t.subject).toBe("hot");
  });

  it("8 processes adding dependency edges to one task in transactions: no edge is lost, every id is new", async () => {
    await store.createTask("t", (id) => ({ task: newTask(id, "blocker") }));
    const n = 8;
    const out = await race(Array.from({ length: N_PROCS }, (_, p) => ["link", "t", "1", String(n), `w${p}`]));
    const made = out.flatMap((r) => r.ids as string[]);
    expect(made.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: N_PROCS * n }, (_, i) => i + 2));
    expect([...(await store.getTask("t", "1"))!.blocks].sort()).toEqual([...made].sort());
    for (const id of made) expect((await store.getTask("t", id))!.blockedBy).toEqual(["1"]);
    const linked = (await store.readEvents("t")).filter((e) => e.kind === "task.linked");
    expect(linked.map((e) => e.data.id).sort()).toEqual([...made].sort());
  });

  it("senders and readers at once: every message is returned by exactly one markRead, and counted once in message.read events", async () => {
    const senders = 4;
    const readers = 3;
    const n = 30;
    const jobs = await pool.start(s, [
      ...Array.from({ length: senders }, (_, p) => ["send", "t", "lead", String(n), `s${p}`]),
      ...Array.from({ length: readers }, () => ["read", "t", "lead"]),
    ]);
    const sent = (await Promise.all(jobs.slice(0, senders))).flatMap((r) => r.ids as string[]);
    await store.editDoc("t", "ctl", "stop", () => ({ value: 0, write: true }));
    const read = await Promise.all(jobs.slice(senders));
    const got = read.flatMap((r) => r.got as string[]);
    expect(sent).toHaveLength(senders * n);
    expect([...got].sort()).toEqual([...sent].sort());
    expect(await store.unreadCount("t", "lead")).toBe(0);
    const reads = (await store.readEvents("t")).filter((e) => e.kind === "message.read");
    expect(reads.reduce((sum, e) => sum + (e.data.count as number), 0)).toBe(senders * n);
    // Readers really raced: more than one of them got messages (else this proves little).
    expect(read.filter((r) => (r.got as string[]).length > 0).length).toBeGreaterThan(1);
  });

  it("8 processes logging events: seqs 1..total without gap, each process's events in its own order", async () => {
    const n = 20;
    await race(Array.from({ length: N_PROCS }, (_, p) => ["events", "t", String(n), `w${p}`]));
    const evs = await store.readEvents("t");
    expect(evs.map((e) => e.seq)).toEqual(Array.from({ length: N_PROCS * n }, (_, i) => i + 1));
    for (let p = 0; p < N_PROCS; p++) {
      const mine = evs.filter((e) => e.data.tag === `w${p}`).map((e) => e.data.i);
      expect(mine).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    for (let i = 1; i < evs.length; i++) expect(timeMs(evs[i].time)).toBeGreaterThanOrEqual(timeMs(evs[i - 1].time) - 1000);
  });

  it("withLock across processes: one holder at a time (no lost increment of a shared file)", async () => {
    const file = path.join(tempDir("clanker-lock-"), "counter");
    fs.writeFileSync(file, "0");
    const n = 15;
    await race(Array.from({ length: 4 }, () => ["locked-count", "t", "spawn:bob", file, String(n)]));
    expect(fs.readFileSync(file, "utf8")).toBe(String(4 * n));
  });

  it("withLock: a dead holder's lock is taken over (JSON within 5 s; PostgreSQL when its connection drops)", async () => {
    const holder = storeWorker(s, ["hold", "t", "spawn:bob"]);
    await holder.waitFor(/^locked$/, 30_000);
    // While the holder lives, nobody else gets in.
    const waiter = storeWorker(s, ["lock-once", "t", "spawn:bob"]);
    await waiter.waitFor(/^ready$/, 30_000);
    await sleep(300);
    expect(waiter.lines.some((l) => l.startsWith("result "))).toBe(false);
    const killedAt = Date.now();
    holder.kill();
    await holder.done;
    await runAll([waiter]);
    const r = resultOf(waiter);
    expect(r.ok).toBe(true);
    const after = Date.now() - killedAt;
    expect(after).toBeLessThan(kind === "json" ? 7000 : 2000);
  });

  it("withLock: LOCKED after waiting too long for a live holder", async () => {
    const holder = storeWorker(s, ["hold", "t", "spawn:bob"]);
    await holder.waitFor(/^locked$/, 30_000);
    const waiter = storeWorker(s, ["lock-once", "t", "spawn:bob"], { CLANKER_TEAMS_LOCK_WAIT_MS: "600" });
    await runAll([waiter]);
    holder.kill();
    await holder.done;
    const r = resultOf(waiter);
    expect(r).toMatchObject({ ok: false, code: "LOCKED" });
    expect(r.waited).toBeGreaterThanOrEqual(500);
  });

  it("watch fires soon after another process changes the topic (latency well under a second), not for another inbox", async () => {
    const changer = storeWorker(s, ["change", "t"]);
    await changer.waitFor(/^ready$/, 30_000);
    const fired = { events: [] as number[], bob: [] as number[] };
    const unwatchE = store.watch("t", "events", () => fired.events.push(Date.now()));
    const unwatchB = store.watch("t", { inbox: "bob" }, () => fired.bob.push(Date.now()));
    await sleep(500); // let the watches settle (a store may call once when it starts listening)
    const latencies: number[] = [];
    const acks = () => changer.lines.filter((l) => l.startsWith("result "));
    /** Has the other process make a change; the watcher's call minus the moment the change was acknowledged. */
    const change = async (line: string, calls: number[]) => {
      const [before, n] = [calls.length, acks().length];
      changer.child.stdin!.write(line + "\n");
      await until(() => acks().length > n, 10_000);
      const acked = JSON.parse(acks()[n].slice(7)).acked as number;
      await until(() => calls.length > before, 3000, 2);
      latencies.push(calls[before] - acked);
    };
    for (let i = 0; i < 4; i++) await change("events", fired.events);
    for (let i = 0; i < 4; i++) await change("inbox bob", fired.bob);
    // A delivery to carol is no change to bob's inbox.
    const bobCalls = fired.bob.length;
    changer.child.stdin!.write("inbox carol\n");
    await sleep(700);
    expect(fired.bob.length).toBe(bobCalls);
    changer.child.stdin!.write("quit\n");
    await runAll([changer]);
    unwatchE();
    unwatchB();
    // After unwatch: no more calls.
    const total = fired.events.length + fired.bob.length;
    await s.open().appendEvents("t", [{ actor: "x", kind: "late", data: {} }]);
    await sleep(400);
    expect(fired.events.length + fired.bob.length).toBe(total);
    expect(Math.max(...latencies)).toBeLessThan(500);
  });

  it("a team deleted and re-created by another process starts empty for a process that had it open", async () => {
    expect((await pool.run(0, s, ["create", "t", "3", "old"])).ids).toEqual(["1", "2", "3"]);
    await pool.run(1, s, ["events", "t", "2", "old"]);
    await store.deleteTeam("t");
    await store.createTeam(config("t"));
    expect((await pool.run(0, s, ["create", "t", "1", "new"])).ids).toEqual(["1"]);
    expect((await pool.run(1, s, ["get-task", "t", "2"])).task).toBeNull();
    expect((await store.listTasks("t")).map((r) => r.subject)).toEqual(["new-0"]);
    expect((await store.readEvents("t")).map((e) => [e.seq, e.actor])).toEqual([[1, "new"]]);
  });

  it("a child process opened with childEnv() sees the same data", async () => {
    await store.createTask("t", (id) => ({ task: newTask(id, "shared") }));
    const w = storeWorker(s, ["get-task", "t", "1"]);
    await runAll([w]);
    expect(resultOf(w).task).toMatchObject({ id: "1", subject: "shared" });
  });
});

describe("postgres store across hosts", () => {
  let s: Subject;
  beforeEach(async () => {
    s = await subject("postgres");
    await s.store.createTeam(config("t"));
  });
  afterEach(async () => {
    await s.close();
  });

  it("a host whose clock is an hour off: its now() and the heartbeats it writes are the database's clock", async () => {
    // The worker's wall clock runs an hour ahead (Date.now, new Date() and performance.timeOrigin).
    const skew = "data:text/javascript," + encodeURIComponent(`
      const H = 3600000, D = Date, real = D.now.bind(D);
      globalThis.Date = class extends D { constructor(...a) { a.length ? super(...a) : super(real() + H); } static now() { return real() + H; } };
      Object.defineProperty(performance, "timeOrigin", { value: performance.timeOrigin + H });`);
    const w = storeWorker(s, ["clock", "t", "bob"], { NODE_OPTIONS: `--import=${skew}` });
    await runAll([w]);
    const r = resultOf(w);
    const here = Date.now();
    expect(r.local - here).toBeGreaterThan(3_500_000); // the skew was in effect
    expect(Math.abs(r.storeNow - here)).toBeLessThan(5000);
    expect(Math.abs(timeMs(r.heartbeatAt) - here)).toBeLessThan(5000);
    expect((await s.store.getPresence("t", "bob"))!.heartbeatAt).toBe(r.heartbeatAt);
  });

  it("a write to a database that is unreachable fails with IO saying nothing was saved (no silent drop)", async () => {
    const { PgStore } = await import("../../src/store/pg/index.js");
    const url = new URL(String(s.env.CLANKER_TEAMS_DB));
    url.port = "1"; // nothing listens there
    const prev = process.env.CLANKER_TEAMS_DB_RETRY_MS;
    process.env.CLANKER_TEAMS_DB_RETRY_MS = "300";
    const dead = new PgStore({ url: url.toString() });
    try {
      const e = await failure(dead.appendEvents("t", [{ actor: "x", kind: "y", data: {} }]));
      expect(e.code).toBe("IO");
      expect(e.message).toMatch(/cannot reach the database/);
      expect(e.message).toContain("Nothing was saved");
      expect(e.message).not.toContain(url.password);
    } finally {
      if (prev === undefined) delete process.env.CLANKER_TEAMS_DB_RETRY_MS;
      else process.env.CLANKER_TEAMS_DB_RETRY_MS = prev;
      await dead.close();
    }
  });
});
