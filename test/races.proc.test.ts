/** Real processes racing on one data dir (slow: spawns node processes). */
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTemp, readJsonFile, teamWith, world } from "./helpers/fixtures.js";
import { race, startWorker } from "./helpers/procs.js";
import { recoverAbandoned } from "../src/presence.js";
import { readHistory, readInbox } from "../src/messages.js";
import { getTask, listTasks, createTask } from "../src/tasks.js";
import { readEvents } from "../src/events.js";
import { addMember } from "../src/teams.js";

afterAll(cleanupTemp);

describe.concurrent("real processes", () => {
  it("8 processes × 50 sends to one inbox leave exactly 400 messages, all distinct, none lost", async () => {
    const w = world();
    const senders = Array.from({ length: 8 }, (_, i) => `s${i}`);
    await teamWith(w, "t", [...senders, "sink"]);
    const workers = await race(w.dir, senders.map((s) => ["send", "t", s, "sink", "50"]));
    const acked = workers.flatMap((wk) => wk.lines.filter((l) => l.startsWith("ack ")).map((l) => l.slice(4)));
    expect(acked).toHaveLength(400);
    const peek = await readInbox(w.as(), "t", { agent_name: "sink" });
    expect(peek.messages).toHaveLength(400);
    const r = await readInbox(w.as("sink"), "t");
    const ids = r.messages.map((m) => m.id);
    expect(ids).toHaveLength(400);
    expect(new Set(ids).size).toBe(400);
    expect(new Set(ids)).toEqual(new Set(acked));
    // Each sender's messages arrive in the order it sent them.
    for (const s of senders) expect(r.messages.filter((m) => m.from === s).map((m) => m.content)).toEqual(Array.from({ length: 50 }, (_, i) => `${s} #${i}`));
    expect(readHistory(w.as(), "t", "sink").total).toBe(400);
    const sent = readEvents(w.as(), "t").filter((e) => e.kind === "message.sent");
    expect(sent).toHaveLength(400);
    const seqs = readEvents(w.as(), "t").map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  }, 120_000);

  it("8 processes × 25 concurrent creates get the unique ids 1..200", async () => {
    const w = world();
    await teamWith(w, "t");
    const workers = await race(w.dir, Array.from({ length: 8 }, () => ["create", "t", "team-lead", "25"]));
    const ids = workers.flatMap((wk) => wk.lines.filter((l) => l.startsWith("ack ")).map((l) => Number(l.slice(4))));
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(listTasks(w.as(), "t").map((t) => Number(t.id))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(readJsonFile(w.as().paths.taskIndex("t")).nextId).toBe(201);
  }, 120_000);

  it("concurrent updates of one task, each process setting a different field, lose no field", async () => {
    const w = world();
    await teamWith(w, "t", ["dev", "qa"]);
    await createTask(w.as(), "t", { subject: "s", description: "d" });
    const n = 30;
    const fields = ["subject", "description", "active_form", "owner", "status"];
    const workers = await race(w.dir, fields.map((f) => ["update", "t", "1", f, String(n)]));
    const last = Object.fromEntries(fields.map((f, i) => [f, workers[i].lines.filter((l) => l.startsWith("ack ")).at(-1)!.slice(4)]));
    const t = getTask(w.as(), "t", "1");
    expect({ subject: t.subject, description: t.description, active_form: t.activeForm, owner: t.owner, status: t.status }).toEqual(last);
    expect(last).toEqual({ subject: `subject ${n - 1}`, description: `description ${n - 1}`, active_form: `active ${n - 1}`, owner: "dev", status: "in_progress" });
    expect(listTasks(w.as(), "t")[0]).toMatchObject({ subject: t.subject, owner: t.owner, status: t.status });
  }, 120_000);

  it("20 processes race to claim 10 tasks: each task gets exactly one owner, nobody gets two", async () => {
    const w = world();
    await teamWith(w, "t");
    const claimers = Array.from({ length: 20 }, (_, i) => `c${i}`);
    for (const c of claimers) await addMember(w.as(), "t", { name: c, role: "teammate" });
    for (let i = 0; i < 10; i++) await createTask(w.as(), "t", { subject: `job ${i}`, description: "" });
    const workers = await race(w.dir, claimers.map((c) => ["claim", "t", c]));
    const results = workers.map((wk) => wk.lines.find((l) => l.startsWith("claimed") || l === "none"));
    const won = results.filter((r) => r?.startsWith("claimed")).map((r) => r!.split(" ")[1]);
    expect(results.filter((r) => r === "none"), JSON.stringify(workers.map((wk) => [wk.lines.slice(-3), wk.stderr?.slice(-300)]))).toHaveLength(10);
    expect(won.sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 1)));
    const tasks = listTasks(w.as(), "t");
    expect(tasks.every((t) => t.status === "in_progress" && t.owner)).toBe(true);
    expect(new Set(tasks.map((t) => t.owner)).size).toBe(10);
    for (let i = 0; i < 20; i++) {
      const line = results[i]!;
      if (line.startsWith("claimed")) expect(getTask(w.as(), "t", line.split(" ")[1]).owner).toBe(claimers[i]);
    }
    expect(readEvents(w.as(), "t").filter((e) => e.kind === "task.claimed")).toHaveLength(10);
  }, 120_000);

  it("a teammate process holding a claim is SIGKILLed: its task is pending again at the next sweep, the lead is told, the event logged", async () => {
    const w = world();
    await teamWith(w, "t", ["dev", "qa"]);
    await createTask(w.as(), "t", { subject: "long job", description: "" });
    const wk = startWorker(w.dir, ["lease", "t", "dev"]);
    expect(await wk.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1");
    const lead = w.as("team-lead", { now: Date.now });
    expect(await recoverAbandoned(lead, "t")).toEqual([]); // alive: keeps it
    expect(getTask(lead, "t", "1")).toMatchObject({ owner: "dev", status: "in_progress" });
    wk.child.kill("SIGKILL");
    await wk.done;
    const t0 = Date.now();
    const rec = await recoverAbandoned(lead, "t");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(rec.map((r) => r.owner)).toEqual(["dev"]);
    expect(getTask(lead, "t", "1").status).toBe("pending");
    expect(getTask(lead, "t", "1").owner).toBeUndefined();
    expect((await readInbox(lead, "t")).messages.filter((m) => m.kind === "tasks_recovered")).toHaveLength(1);
    expect(readEvents(lead, "t").filter((e) => e.kind === "task.recovered").map((e) => e.data.owner)).toEqual(["dev"]);
  }, 60_000);
});
