/**
 * Writers SIGKILLed at random points, over and over (real processes through
 * the domain): nothing acknowledged is lost, the next process brings the
 * documented files up to date, and every one of them parses.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { assertDataFilesParse, cleanupTemp, cli, readJsonFile, teamWith, walk, world } from "./helpers/fixtures.js";
import { startWorker } from "./helpers/procs.js";
import { readHistory, readInbox } from "../src/domain/messages.js";
import { getTask, listTasks } from "../src/domain/tasks.js";
import { readEvents } from "../src/domain/events.js";

afterAll(cleanupTemp);

const ROUNDS = Number(process.env.CLANKER_TEST_KILL_ROUNDS) || 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** "a12.40" → writer a, round 12, counter 40 (the chaos worker's activeForm values). */
const parseUpd = (v: string) => {
  const m = /^([ab])(\d+)\.(\d+)$/.exec(v)!;
  return { who: m[1], round: Number(m[2]), n: Number(m[3]) };
};

describe("SIGKILL in a loop", () => {
  it(`${ROUNDS} rounds of two writers killed at random moments: every acknowledged change kept, the files made whole by the next process`, async () => {
    const w = world();
    await teamWith(w, "t", ["a", "b", "qa"]);
    const msgAcks = new Set<string>();
    const taskAcks = new Map<string, string>(); // id → subject
    const updAcks = new Map<string, { round: number; who: string; n: number }[]>(); // task id → acked updates
    let killedMidway = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ws = ["a", "b"].map((who) => startWorker(w.dir, ["chaos", "t", who, "qa", `${who}${round}`], { CLANKER_TEAMS_WAL_BYTES: "40000" }));
      await Promise.all(ws.map((x) => x.waitFor(/^ready$/, 60_000)));
      await Promise.all(ws.map(async (x) => {
        await sleep(20 + Math.random() * 300);
        x.child.kill("SIGKILL");
        const r = await x.done;
        if (r.signal === "SIGKILL") killedMidway++;
        else throw new Error(`chaos worker ended by itself (${r.code}): ${x.stderr.slice(-2000)}`);
      }));
      for (const x of ws) {
        for (const l of x.lines) {
          const [kind, id, rest] = l.split(" ");
          if (kind === "msg") msgAcks.add(id);
          if (kind === "task") taskAcks.set(id, rest);
          if (kind === "upd") updAcks.set(id, [...(updAcks.get(id) ?? []), parseUpd(rest)]);
        }
        expect(x.stderr).not.toMatch(/Error/);
      }
    }
    expect(killedMidway).toBe(ROUNDS * 2);
    expect(msgAcks.size).toBeGreaterThan(ROUNDS); // the workers did real work before dying
    // The log rotated under the kills (segments of 40 KB).
    expect(fs.readdirSync(w.layout.walDir("t")).some((f) => f.startsWith("snapshot-"))).toBe(true);

    // 1. The next clanker-teams process brings the documented files up to date; then every file parses.
    expect((await cli(["status", "t"], { dir: w.dir })).exitCode).toBe(0);
    assertDataFilesParse(w.dir);

    // 2. Every acknowledged message is stored, once.
    const history = (await readHistory(w.as(), "t", "qa", { limit: 1e9 })).messages;
    const stored = new Set(history.map((m) => m.id));
    expect(stored.size).toBe(history.length);
    for (const id of msgAcks) expect(stored.has(id), `acked message ${id}`).toBe(true);
    const all = await readInbox(w.as("qa"), "t", { unread_only: false });
    expect(new Set(all.messages.map((m) => m.id)).size).toBe(all.messages.length);

    // 3. Every acknowledged task exists with its subject; the index and the task files agree with the store.
    for (const [id, subject] of taskAcks) expect((await getTask(w.as(), "t", id)).subject).toBe(subject);
    const listed = await listTasks(w.as(), "t");
    for (const id of taskAcks.keys()) expect(listed.some((s) => s.id === id), `task ${id} listed`).toBe(true);
    expect(listed.map((s) => Number(s.id))).toEqual(listed.map((_, i) => i + 1)); // ids dense, none reused
    const index = readJsonFile(w.layout.taskIndex("t"));
    expect(Object.keys(index.tasks).length).toBe(listed.length);
    for (const s of listed) {
      const file = readJsonFile(w.layout.taskFile("t", s.id));
      expect({ id: file.id, status: file.status, owner: file.owner, subject: file.subject }).toEqual({ id: s.id, status: s.status, owner: s.owner, subject: s.subject });
      expect(index.tasks[s.id]).toMatchObject({ status: s.status, subject: s.subject });
    }

    // 4. Acknowledged updates are not rolled back. Rounds run one after the other, so a later round's value
    // is newer; within a round only one writer's own updates are ordered (the other's may land in between).
    for (const [id, acked] of updAcks) {
      const af = (await getTask(w.as(), "t", id)).activeForm!;
      const final = parseUpd(af);
      expect(final.round, `task ${id} activeForm ${af}`).toBeGreaterThanOrEqual(Math.max(...acked.map((a) => a.round)));
      for (const a of acked) if (a.round === final.round && a.who === final.who) expect(final.n, `task ${id} activeForm ${af} after ${a.who}${a.round}.${a.n}`).toBeGreaterThanOrEqual(a.n);
    }

    // 5. The event log is gapless, in the store and in events.jsonl.
    await w.flush(); // (this process logged message.read above)
    const seqs = (await readEvents(w.as(), "t")).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const lines = fs.readFileSync(w.layout.events("t"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l).seq);
    expect(lines).toEqual(seqs);

    // 6. Leftovers of killed writers are temp files only, a bounded number.
    const tmp = walk(w.dir).filter((e) => !e.dir && e.path.endsWith(".tmp"));
    expect(tmp.length).toBeLessThanOrEqual(ROUNDS * 2);
  }, 170_000);

  it("a writer killed after its change but before it wrote the documented files: the next process writes them", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await w.flush();
    // The worker's event loop is blocked after the ack: its 100 ms flush never runs.
    const wk = startWorker(w.dir, ["create-and-hang", "t", "dev"]);
    expect(await wk.waitFor(/^ack /, 60_000)).toBe("ack 1");
    wk.kill();
    await wk.done;
    expect(fs.existsSync(w.layout.taskFile("t", "1"))).toBe(false);
    expect((await cli(["call", "task_list", '{"team_name":"t"}'], { dir: w.dir })).exitCode).toBe(0);
    expect(readJsonFile(w.layout.taskFile("t", "1"))).toMatchObject({ id: "1", subject: "made by dev", createdBy: "dev" });
    expect(readJsonFile(w.layout.taskIndex("t")).tasks["1"]).toMatchObject({ subject: "made by dev" });
    expect(fs.readFileSync(w.layout.events("t"), "utf8")).toContain('"task.created"');
    assertDataFilesParse(w.dir);
  }, 60_000);
});
