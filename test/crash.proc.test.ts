/** Writers SIGKILLed at random points, over and over: nothing acknowledged is lost, every file parses. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { assertDataFilesParse, cleanupTemp, teamWith, walk, world } from "./helpers/fixtures.js";
import { startWorker } from "./helpers/procs.js";
import { readHistory, readInbox } from "../src/messages.js";
import { getTask, listTasks } from "../src/tasks.js";
import { readEvents } from "../src/events.js";

afterAll(cleanupTemp);

const ROUNDS = Number(process.env.CLANKER_TEST_KILL_ROUNDS) || 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** "a12.40" → writer a, round 12, counter 40 (the chaos worker's activeForm values). */
const parseUpd = (v: string) => {
  const m = /^([ab])(\d+)\.(\d+)$/.exec(v)!;
  return { who: m[1], round: Number(m[2]), n: Number(m[3]) };
};

describe("SIGKILL in a loop", () => {
  it(`${ROUNDS} rounds of two writers killed at random delays leave every file parseable and every ack stored`, async () => {
    const w = world();
    await teamWith(w, "t", ["a", "b", "qa"]);
    const msgAcks = new Set<string>();
    const taskAcks = new Map<string, string>(); // id → subject
    const updAcks = new Map<string, { round: number; who: string; n: number }[]>(); // task id → acked updates
    let killedMidway = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ws = ["a", "b"].map((who) => startWorker(w.dir, ["chaos", "t", who, "qa", `${who}${round}`]));
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
        expect(x.stderr).not.toMatch(/Error|TeamsError/);
      }
    }
    expect(killedMidway).toBe(ROUNDS * 2);
    expect(msgAcks.size).toBeGreaterThan(ROUNDS); // the workers did real work before dying

    // 1. Every JSON file parses; every JSON-lines line parses; nothing was moved aside as corrupt.
    assertDataFilesParse(w.dir);

    // 2. Every acknowledged message is stored, once.
    const history = readHistory(w.as(), "t", "qa", { limit: 1e9 }).messages;
    const stored = new Set(history.map((m) => m.id));
    expect(stored.size).toBe(history.length);
    for (const id of msgAcks) expect(stored.has(id), `acked message ${id}`).toBe(true);
    expect(msgAcks.size).toBeLessThanOrEqual(stored.size);
    const all = await readInbox(w.as("qa"), "t", { unread_only: false });
    expect(new Set(all.messages.map((m) => m.id)).size).toBe(all.messages.length);

    // 3. Every acknowledged task exists with its subject; the index agrees with the task files.
    for (const [id, subject] of taskAcks) expect(getTask(w.as(), "t", id).subject).toBe(subject);
    const listed = listTasks(w.as(), "t");
    for (const s of listed) {
      const t = getTask(w.as(), "t", s.id);
      expect({ id: s.id, status: s.status, owner: s.owner, subject: s.subject }).toEqual({ id: t.id, status: t.status, owner: t.owner, subject: t.subject });
    }
    for (const id of taskAcks.keys()) expect(listed.some((s) => s.id === id), `task ${id} listed`).toBe(true);
    const taskFiles = fs.readdirSync(w.as().paths.tasksDir("t")).filter((n) => /^task_\d+\.json$/.test(n));
    expect(taskFiles.length).toBe(listed.length);

    // 4. Acknowledged updates are not rolled back. Rounds run one after the other, so a later round's value
    // is newer; within a round only one writer's own updates are ordered (the other's may land in between).
    for (const [id, acked] of updAcks) {
      const af = getTask(w.as(), "t", id).activeForm!;
      const final = parseUpd(af);
      expect(final.round, `task ${id} activeForm ${af}`).toBeGreaterThanOrEqual(Math.max(...acked.map((a) => a.round)));
      for (const a of acked) if (a.round === final.round && a.who === final.who) expect(final.n, `task ${id} activeForm ${af} after ${a.who}${a.round}.${a.n}`).toBeGreaterThanOrEqual(a.n);
    }

    // 5. The event log has strictly increasing seqs.
    const seqs = readEvents(w.as(), "t").map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);

    // 6. And the data dir is still fully usable.
    const tmp = walk(w.dir).filter((e) => !e.dir && e.path.endsWith(".tmp"));
    expect(tmp.length).toBeLessThanOrEqual(ROUNDS * 2); // leftover temp files of killed writes only
    expect(path.basename(w.dir)).toBeTruthy();
  }, 170_000);
});
