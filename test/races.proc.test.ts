/**
 * Real processes racing through the domain on one store, on each store (the
 * JSON files, PostgreSQL; slow: spawns node processes): 16 senders, creators,
 * updaters and claimers lose nothing and never double-own a task; a killed
 * teammate's claim is recovered; a cut-off teammate that comes back is fenced
 * off the task it lost.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { cleanupTemp, until } from "./helpers/fixtures.js";
import { KINDS, settleStores, storeWorld, teamOn, type StoreWorld } from "./helpers/store-world.js";
import { race as raceOn, startWorker as startOn, type Worker } from "./helpers/procs.js";
import { recoverAbandoned } from "../src/domain/presence.js";
import { readHistory, readInbox } from "../src/domain/messages.js";
import { claimTask, createTask, getTask, listTasks } from "../src/domain/tasks.js";
import { readEvents } from "../src/domain/events.js";
import { addMember } from "../src/domain/teams.js";

afterAll(async () => {
  await settleStores();
  cleanupTemp();
});

const N = 16;
const acks = (ws: Worker[], prefix: string) => ws.flatMap((wk) => wk.lines.filter((l) => l.startsWith(prefix + " ")).map((l) => l.slice(prefix.length + 1)));
const byNum = (a: string, b: string) => Number(a) - Number(b);

describe.each(KINDS)("%s store", (kind) => {
let w: StoreWorld;
const fresh = async () => (w = await storeWorld(kind));
afterEach(async () => { await w?.close(); });
/** Starts workers on this world's store together and runs them to completion. */
const race = (dir: string, argsList: string[][]) => raceOn(dir, argsList, w.workerEnv);
const startWorker = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) => startOn(dir, args, { ...w.workerEnv, ...env });

describe("16 real processes at once", () => {
  it("16 × 25 sends to one inbox: exactly 400 messages, all distinct, each sender's in order, one event each, seqs gapless", async () => {
    await fresh();
    const senders = Array.from({ length: N }, (_, i) => `s${i}`);
    await teamOn(w, "t", [...senders, "sink"]);
    const workers = await race(w.dir, senders.map((s) => ["send", "t", s, "sink", "25"]));
    const acked = acks(workers, "ack");
    expect(acked).toHaveLength(400);
    expect((await readInbox(w.as(), "t", { agent_name: "sink" })).messages).toHaveLength(400);
    const r = await readInbox(w.as("sink"), "t");
    const ids = r.messages.map((m) => m.id);
    expect(new Set(ids).size).toBe(400);
    expect(new Set(ids)).toEqual(new Set(acked));
    for (const s of senders) expect(r.messages.filter((m) => m.from === s).map((m) => m.content)).toEqual(Array.from({ length: 25 }, (_, i) => `${s} #${i}`));
    expect((await readHistory(w.as(), "t", "sink")).total).toBe(400);
    const evs = await readEvents(w.as(), "t");
    expect(evs.filter((e) => e.kind === "message.sent")).toHaveLength(400);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
  }, 120_000);

  it("16 × 15 creates get the ids 1..240, each once, each with its task.created event", async () => {
    await fresh();
    await teamOn(w, "t");
    const workers = await race(w.dir, Array.from({ length: N }, () => ["create", "t", "team-lead", "15"]));
    const ids = acks(workers, "ack").sort(byNum);
    const all = Array.from({ length: 240 }, (_, i) => String(i + 1));
    expect(ids).toEqual(all);
    expect((await listTasks(w.as(), "t")).map((t) => t.id)).toEqual(all);
    expect((await readEvents(w.as(), "t")).filter((e) => e.kind === "task.created").map((e) => e.data.id as string).sort(byNum)).toEqual(all);
    expect((await createTask(w.as(), "t", { subject: "next", description: "" })).id).toBe("241");
    if (w.layout) {
      await w.flush();
      expect(JSON.parse((await import("node:fs")).readFileSync(w.layout.taskIndex("t"), "utf8")).nextId).toBe(242);
    }
  }, 120_000);

  it("16 processes updating fields of 4 tasks, each process its own field of one task: no field is lost", async () => {
    await fresh();
    await teamOn(w, "t", ["dev", "qa"]);
    for (let i = 1; i <= 4; i++) await createTask(w.as(), "t", { subject: "s", description: "d" });
    const n = 20;
    const fields = ["subject", "description", "active_form", "owner", "status"];
    const jobs = Array.from({ length: N }, (_, i) => ({ id: String(1 + Math.floor(i / 5)), field: fields[i % 5] }));
    const workers = await race(w.dir, jobs.map((j) => ["update", "t", j.id, j.field, String(n)]));
    const expected: Record<string, string> = { subject: `subject ${n - 1}`, description: `description ${n - 1}`, active_form: `active ${n - 1}`, owner: "dev", status: "in_progress" };
    jobs.forEach((j, i) => expect(acks([workers[i]], "ack").at(-1)).toBe(expected[j.field]));
    for (const id of ["1", "2", "3"]) {
      const t = await getTask(w.as(), "t", id);
      expect({ subject: t.subject, description: t.description, active_form: t.activeForm, owner: t.owner, status: t.status }).toEqual(expected);
    }
    expect(await getTask(w.as(), "t", "4")).toMatchObject({ subject: `subject ${n - 1}`, description: "d" });
    const rows = await listTasks(w.as(), "t");
    expect(rows[0]).toMatchObject({ subject: expected.subject, owner: "dev", status: "in_progress" });
  }, 120_000);

  it("16 processes take 40 tasks from the queue: each task claimed exactly once, lease epoch 1, nobody else owns it", async () => {
    await fresh();
    await teamOn(w, "t");
    const claimers = Array.from({ length: N }, (_, i) => `c${i}`);
    for (const c of claimers) await addMember(w.as(), "t", { name: c, role: "teammate" });
    for (let i = 0; i < 40; i++) await createTask(w.as(), "t", { subject: `job ${i}`, description: "" });
    const workers = await race(w.dir, claimers.map((c) => ["claim-all", "t", c]));
    const won = workers.flatMap((wk, i) => acks([wk], "claimed").map((l) => ({ id: l.split(" ")[0], epoch: l.split(" ")[1], by: claimers[i] })));
    for (const wk of workers) expect(wk.lines.at(-1)).toBe("none");
    expect(won.map((x) => x.id).sort(byNum)).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 1)));
    expect(won.every((x) => x.epoch === "1")).toBe(true);
    for (const x of won) expect(await getTask(w.as(), "t", x.id)).toMatchObject({ owner: x.by, status: "in_progress", epoch: 1 });
    expect(new Set(won.map((x) => x.by)).size).toBeGreaterThan(1); // they really raced
    expect((await readEvents(w.as(), "t")).filter((e) => e.kind === "task.claimed")).toHaveLength(40);
  }, 120_000);
});

describe("dependency edits racing with task edits", () => {
  it("2 processes editing dependency edges and 2 editing the tasks: no field lost, edges symmetric, never a cycle", async () => {
    await fresh();
    await teamOn(w, "t", ["a", "b"]);
    for (let i = 1; i <= 8; i++) await createTask(w.as(), "t", { subject: `task ${i}`, description: "" });
    // The lead may edit owned tasks.
    const workers = await race(w.dir, [["touch", "t", "a", "1,2,3,4", "60"], ["touch", "t", "b", "5,6,7,8", "60"], ["edges", "t", "team-lead", "8", "40"], ["edges", "t", "team-lead", "8", "40"]]);
    expect(acks(workers.slice(2), "e").length).toBeGreaterThan(10);
    const last = new Map<string, string>();
    for (const l of acks(workers.slice(0, 2), "u")) { const [id, v] = l.split(" "); last.set(id, v); }
    const all = new Map((await Promise.all(Array.from({ length: 8 }, (_, i) => getTask(w.as(), "t", String(i + 1))))).map((t) => [t.id, t]));
    for (const [id, v] of last) expect(all.get(id)!.activeForm, `#${id}`).toBe(v);
    const rows = new Map((await listTasks(w.as(), "t")).map((r) => [r.id, r]));
    for (const t of all.values()) {
      expect(rows.get(t.id)).toMatchObject({ blockedBy: t.blockedBy, blocks: t.blocks });
      expect(rows.get(t.id)!.owner).toBe(t.owner);
      for (const b of t.blockedBy) expect(all.get(b)!.blocks, `#${b} blocks #${t.id}`).toContain(t.id);
      for (const d of t.blocks) expect(all.get(d)!.blockedBy, `#${d} blocked by #${t.id}`).toContain(t.id);
      // Acyclic: walking blockedBy from a task never comes back to it.
      const seen = new Set<string>();
      const stack = [...t.blockedBy];
      while (stack.length) {
        const cur = stack.pop()!;
        expect(cur, `cycle through #${t.id}`).not.toBe(t.id);
        if (seen.has(cur)) continue;
        seen.add(cur);
        stack.push(...all.get(cur)!.blockedBy);
      }
    }
  }, 120_000);
});

describe("leases with real processes", () => {
  it("a teammate process holding a claim is SIGKILLed: its task is pending again at the next sweep, the lead is told, the event logged", async () => {
    await fresh();
    await teamOn(w, "t", ["dev", "qa"]);
    await createTask(w.as(), "t", { subject: "long job", description: "" });
    const wk = startWorker(w.dir, ["lease", "t", "dev"]);
    expect(await wk.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 1");
    const lead = w.as("team-lead", { now: Date.now });
    expect(await recoverAbandoned(lead, "t")).toEqual([]); // alive: keeps it
    expect(await getTask(lead, "t", "1")).toMatchObject({ owner: "dev", status: "in_progress" });
    wk.child.kill("SIGKILL");
    await wk.done;
    const t0 = Date.now();
    const rec = await recoverAbandoned(lead, "t");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(rec.map((r) => r.owner)).toEqual(["dev"]);
    expect(await getTask(lead, "t", "1")).toMatchObject({ status: "pending", fenced: [{ agent: "dev" }] });
    expect((await getTask(lead, "t", "1")).owner).toBeUndefined();
    expect((await readInbox(lead, "t")).messages.filter((m) => m.kind === "tasks_recovered")).toHaveLength(1);
    expect((await readEvents(lead, "t")).filter((e) => e.kind === "task.recovered").map((e) => e.data.owner)).toEqual(["dev"]);
  }, 60_000);

  it("a teammate on a host that is cut off loses its claim after the lease; when it comes back, its task_update is refused naming the new owner", async () => {
    await fresh();
    await teamOn(w, "t", ["dev", "qa"]);
    await createTask(w.as(), "t", { subject: "long job", description: "" });
    const lease = { CLANKER_TEAMS_LEASE_MS: "2000" };
    // dev runs on another "host": only its heartbeat speaks for it (no pid check).
    const dev = startWorker(w.dir, ["lease", "t", "dev"], { CLANKER_TEAMS_HOST: "host-b" });
    expect(await dev.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 1");
    const lead = w.as("team-lead", { now: Date.now, env: { ...w.env, ...lease } });
    expect(await recoverAbandoned(lead, "t")).toEqual([]);
    dev.child.kill("SIGSTOP"); // the network is cut: no heartbeat, the process lives on
    try {
      await until(async () => (await recoverAbandoned(lead, "t")).length > 0, 10_000, 200);
      expect((await readInbox(lead, "t")).messages.find((m) => m.kind === "tasks_recovered")?.content).toMatch(/^Tasks #1 "long job" of dev are pending again \(owner cleared\): dev is dead \(no heartbeat on host-b for \d+ s\)/);
      expect((await claimTask(w.as("qa", { session: "qa-session" }), "t")).task).toMatchObject({ id: "1", owner: "qa", epoch: 2 });
    } finally {
      dev.child.kill("SIGCONT"); // the host is back
    }
    dev.child.stdin!.write("update 1 completed\n");
    expect(await dev.waitFor(/^(ok|refused) /, 20_000)).toMatch(/^refused FORBIDDEN task 1: your claim on it was taken away at .* \(dev is dead \(no heartbeat on host-b for \d+ s\)\); it is now owned by qa\./);
    expect(await getTask(lead, "t", "1")).toMatchObject({ owner: "qa", status: "in_progress", epoch: 2 });
    dev.child.stdin!.end();
    await dev.done;
  }, 60_000);
});
});
