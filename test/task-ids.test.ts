import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { createTask, listTasks } from "../src/tasks.js";
import { assertTicketsFile, cleanupTemp, teamWith, walk, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

const tickets = (w: World) => path.join(w.as().paths.tasksDir("t"), "ids.tickets");
const create = async (w: World, n: number) => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await createTask(w.as(), "t", { subject: `s${i}`, description: "" })).id);
  return ids;
};

describe("task ids by ticket", () => {
  it("hands out consecutive ids, one 16-byte record each, starting after the tasks that already exist", async () => {
    const w = world();
    await teamWith(w, "t");
    expect(await create(w, 3)).toEqual(["1", "2", "3"]);
    const text = fs.readFileSync(tickets(w), "utf8");
    assertTicketsFile(tickets(w), text);
    expect(text.length).toBe(16 * 4); // header + 3 tickets
    // A data dir from before tickets existed (or a lost tickets file): the base is the next free id.
    fs.unlinkSync(tickets(w));
    expect(await create(w, 2)).toEqual(["4", "5"]);
    expect(fs.readFileSync(tickets(w), "utf8").startsWith("base 4")).toBe(true);
  });

  it("team_create starts the tickets at 1, so the first creators do not race to make the file", async () => {
    const w = world();
    await teamWith(w, "t");
    expect(fs.readFileSync(tickets(w), "utf8")).toBe("base 1".padEnd(15) + "\n");
  });

  it("skips a ticket whose id is taken (a task created behind its back) and never reuses an id", async () => {
    const w = world();
    await teamWith(w, "t");
    await create(w, 2);
    // Another process created task 3 without a ticket (e.g. by the probing fallback).
    const f3 = w.as().paths.taskFile("t", "3");
    fs.writeFileSync(f3, fs.readFileSync(w.as().paths.taskFile("t", "2"), "utf8").replace('"id": "2"', '"id": "3"'));
    expect(await create(w, 2)).toEqual(["4", "5"]);
    expect(new Set(listTasks(w.as(), "t").map((t) => t.id))).toEqual(new Set(["1", "2", "3", "4", "5"]));
  });

  it("a damaged tickets file (a record cut short) is moved aside and creation goes on without a duplicate", async () => {
    const w = world();
    await teamWith(w, "t");
    await create(w, 2);
    fs.appendFileSync(tickets(w), "torn"); // 4 bytes: every later record is misaligned
    const more = await create(w, 3);
    expect(more).toEqual(["3", "4", "5"]);
    expect(walk(path.dirname(tickets(w))).some((e) => path.basename(e.path).startsWith("ids.tickets.corrupt-"))).toBe(true);
    assertTicketsFile(tickets(w), fs.readFileSync(tickets(w), "utf8"));
  });

  it("a header that is not ours falls back to probing (ids stay unique and dense)", async () => {
    const w = world();
    await teamWith(w, "t");
    fs.mkdirSync(path.dirname(tickets(w)), { recursive: true });
    fs.writeFileSync(tickets(w), "garbage garbage\n");
    expect(await create(w, 3)).toEqual(["1", "2", "3"]);
  });
});

describe("ids in transactions", () => {
  it("a refused create with blocked_by uses up no id; a transaction that runs again keeps its id", async () => {
    const { inTasks } = await import("../src/tasks.js");
    const w = world();
    await teamWith(w, "t");
    await create(w, 1);
    await expect(createTask(w.as(), "t", { subject: "x", description: "", blocked_by: ["99"] })).rejects.toThrow(/blocked_by: task "99" does not exist/);
    expect((await createTask(w.as(), "t", { subject: "y", description: "", blocked_by: ["1"] })).id).toBe("2");
    // Run 1 reads task 1, which another writer then replaces: the commit fails and the transaction runs again.
    let runs = 0;
    const id = await inTasks(w.as(), "t", (tx) => {
      runs++;
      const one = tx.get("1");
      tx.put({ ...one, description: `touched by run ${runs}` });
      const nid = tx.allocateId();
      tx.put({ id: nid, subject: "z", description: "", status: "pending", blocks: [], blockedBy: [], createdBy: "team-lead", createdAt: 1, updatedAt: 1 });
      if (runs === 1) {
        const f = w.as().paths.taskFile("t", "1");
        fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace('"description": ""', '"description": "replaced meanwhile"'));
      }
      return nid;
    });
    expect(runs).toBe(2);
    expect(id).toBe("3");
    expect(await create(w, 1)).toEqual(["4"]);
    expect(fs.readdirSync(w.as().paths.tasksDir("t")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
