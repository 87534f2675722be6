/**
 * The TeamStore contract (src/store/types.ts), in one process: every promise
 * of the interface, stated once and run against every store. Promises about
 * concurrent processes are in races.proc.test.ts.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { timeMs, type Runtime, type Task } from "../../src/schemas.js";
import type { EventInput, TeamStore } from "../../src/store/types.js";
import { cleanupTemp } from "../helpers/fixtures.js";
import { config, failure, KINDS, message, newTask, settle, subject, type Subject } from "./stores.js";

afterAll(async () => {
  await settle();
  cleanupTemp();
});

const ev = (actor: string, kind: string, data: Record<string, unknown> = {}): EventInput => ({ actor, kind, data });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(KINDS)("%s store", (kind) => {
  let s: Subject;
  let store: TeamStore;
  beforeEach(async () => {
    s = await subject(kind);
    store = s.store;
  });
  afterEach(async () => {
    await s.close();
  });

  /** Events logged since `after`, as kind strings. */
  const kindsAfter = async (team: string, after = 0) => (await store.readEvents(team, after)).map((e) => e.kind);
  const lastSeq = async (team: string) => (await store.readEvents(team)).at(-1)?.seq ?? 0;

  // ---- teams ---------------------------------------------------------------------

  describe("teams", () => {
    it("createTeam, getTeam, listTeams (sorted) and editTeam keep the config", async () => {
      expect(await store.listTeams()).toEqual([]);
      expect(await store.getTeam("zeta")).toBeUndefined();
      await store.createTeam(config("zeta"), [ev("team-lead", "team.created")]);
      await store.createTeam(config("alpha"));
      expect(await store.listTeams()).toEqual(["alpha", "zeta"]);
      expect(await store.getTeam("zeta")).toEqual(config("zeta"));
      expect(await kindsAfter("zeta")).toEqual(["team.created"]);

      const r = await store.editTeam("zeta", (cfg) => {
        cfg.description = "changed";
        cfg.members.push({ name: "bob", agentId: "b", role: "teammate", joinedAt: cfg.createdAt });
        return { value: cfg.members.length, write: true, events: [ev("team-lead", "member.added", { name: "bob" })] };
      });
      expect(r).toMatchObject({ value: 2, written: true });
      expect(r.current.description).toBe("changed");
      const stored = (await s.open().getTeam("zeta"))!;
      expect(stored.description).toBe("changed");
      expect(stored.members.map((m) => m.name)).toEqual(["team-lead", "bob"]);
      expect(await kindsAfter("zeta")).toEqual(["team.created", "member.added"]);
    });

    it("createTeam of an existing name is CONFLICT and changes nothing", async () => {
      await store.createTeam(config("t"));
      const other = { ...config("t"), description: "other" };
      const e = await failure(store.createTeam(other, [ev("x", "team.created")]));
      expect(e.code).toBe("CONFLICT");
      expect((await store.getTeam("t"))!.description).toBe("contract");
      expect(await store.readEvents("t")).toEqual([]);
    });

    it("editTeam: NOT_FOUND for a missing team; a rule that writes nothing changes and logs nothing", async () => {
      expect((await failure(store.editTeam("nope", () => ({ value: 1, write: true })))).code).toBe("NOT_FOUND");
      await store.createTeam(config("t"));
      const r = await store.editTeam("t", (cfg) => {
        cfg.description = "tentative";
        return { value: "no", write: false, events: [ev("x", "ignored")] };
      });
      expect(r).toMatchObject({ value: "no", written: false });
      expect(await store.getTeam("t")).toEqual(config("t"));
      expect(await store.readEvents("t")).toEqual([]);
      // "the value as stored after it" (types.ts: Edited), not the rule's discarded copy
      expect(r.current).toEqual(config("t"));
    });

    it("deleteTeam removes everything; a re-created team starts with no tasks, mail, events, documents or presence, ids from 1", async () => {
      await store.createTeam(config("t"), [ev("team-lead", "team.created")]);
      for (let i = 0; i < 3; i++) await store.createTask("t", (id) => ({ task: newTask(id, `old ${i}`) }));
      await store.deliver("t", [message("m1", "bob")]);
      await store.editDoc("t", "votes", "k", () => ({ value: 0, write: { yes: 1 } }));
      await store.putPresence("t", "bob", { state: "busy" });
      await store.deleteTeam("t");
      expect(await store.getTeam("t")).toBeUndefined();
      expect(await store.listTeams()).toEqual([]);
      expect((await failure(store.listTasks("t"))).code).toBe("NOT_FOUND");

      await store.createTeam(config("t"));
      expect(await store.listTasks("t")).toEqual([]);
      expect(await store.unread("t", "bob")).toEqual([]);
      expect((await store.history("t", "bob")).total).toBe(0);
      expect(await store.readEvents("t")).toEqual([]);
      expect(await store.listDocs("t", "votes")).toEqual([]);
      expect(await store.listPresence("t")).toEqual([]);
      expect((await store.createTask("t", (id) => ({ task: newTask(id, "new") }))).id).toBe("1");
      await store.appendEvents("t", [ev("x", "first")]);
      expect((await store.readEvents("t")).map((e) => e.seq)).toEqual([1]);
    });

    it("deleteTeam of a missing team is a no-op; teams are independent", async () => {
      await store.deleteTeam("ghost");
      await store.createTeam(config("a"));
      await store.createTeam(config("b"));
      await store.createTask("a", (id) => ({ task: newTask(id, "a1") }));
      await store.appendEvents("a", [ev("x", "a.only")]);
      expect((await store.createTask("b", (id) => ({ task: newTask(id, "b1") }))).id).toBe("1");
      expect(await store.readEvents("b")).toEqual([]);
      await store.deleteTeam("b");
      expect((await store.listTasks("a")).map((t) => t.subject)).toEqual(["a1"]);
    });

    it("every operation on a missing team is NOT_FOUND", async () => {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["getTask", () => store.getTask("ghost", "1")],
        ["listTasks", () => store.listTasks("ghost")],
        ["createTask", () => store.createTask("ghost", (id) => ({ task: newTask(id, "x") }))],
        ["editTask", () => store.editTask("ghost", "1", () => ({ value: 0, write: true }))],
        ["editFirst", () => store.editFirst("ghost", ["1"], () => ({ value: 0, write: true }))],
        ["transact", () => store.transact("ghost", async (tx) => { tx.event(ev("x", "y")); })],
        ["deliver", () => store.deliver("ghost", [message("m", "bob")])],
        ["unread", () => store.unread("ghost", "bob")],
        ["unreadCount", () => store.unreadCount("ghost", "bob")],
        ["markRead", () => store.markRead("ghost", "bob", "all", "bob")],
        ["history", () => store.history("ghost", "bob")],
        ["appendEvents", () => store.appendEvents("ghost", [ev("x", "y")])],
        ["readEvents", () => store.readEvents("ghost")],
        ["putPresence", () => store.putPresence("ghost", "bob", { state: "idle" })],
        ["getDoc", () => store.getDoc("ghost", "c", "k")],
        ["listDocs", () => store.listDocs("ghost", "c")],
        ["editDoc", () => store.editDoc("ghost", "c", "k", () => ({ value: 0, write: 1 }))],
      ];
      for (const [name, call] of calls) expect([name, (await failure(call())).code]).toEqual([name, "NOT_FOUND"]);
      expect(await store.listTeams()).toEqual([]);
    });

    it("a stored config that breaks the schema is INVALID_INPUT naming the field, and is left in place", async () => {
      await store.createTeam(config("t"));
      await s.editStoredConfig("t", { agentCmd: "pi --model x" });
      const e = await failure(store.getTeam("t"));
      expect(e.code).toBe("INVALID_INPUT");
      expect(e.message).toContain("agentCmd");
      expect((await failure(store.editTeam("t", () => ({ value: 0, write: true })))).code).toBe("INVALID_INPUT");
      // Fixing the field by hand brings the team back as it was.
      await s.editStoredConfig("t", { agentCmd: ["pi", "--model", "x"] });
      expect((await store.getTeam("t"))!.agentCmd).toEqual(["pi", "--model", "x"]);
      expect(await store.listTeams()).toEqual(["t"]);
    });
  });

  // ---- tasks ---------------------------------------------------------------------

  describe("tasks", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("createTask gives ids 1, 2, 3…; getTask returns a private copy; listTasks is sorted by numeric id", async () => {
      const made: Task[] = [];
      for (let i = 1; i <= 12; i++) made.push(await store.createTask("t", (id) => ({ task: newTask(id, `s${i}`) })));
      expect(made.map((t) => t.id)).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1)));
      const t3 = (await store.getTask("t", "3"))!;
      expect(t3).toEqual(newTask("3", "s3"));
      t3.subject = "changed in my copy";
      t3.blocks.push("99");
      expect(await store.getTask("t", "3")).toEqual(newTask("3", "s3"));
      expect(await store.getTask("t", "13")).toBeUndefined();
      expect(await store.getTask("t", "abc")).toBeUndefined();
      const rows = await store.listTasks("t");
      expect(rows.map((r) => r.id)).toEqual(made.map((t) => t.id));
      expect(rows[9]).toMatchObject({ id: "10", subject: "s10", status: "pending", blocks: [], blockedBy: [], createdAt: newTask("x", "y").createdAt });
    });

    it("createTask: every string equal to the provisional id is the final id, in the task and its events", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "first") }));
      let seen = "";
      const t = await store.createTask("t", (id) => {
        seen = id;
        return { task: newTask(id, "second", { activeForm: id, fenced: [{ agent: id, session: "s", at: newTask("x", "y").createdAt, reason: id }] }), events: [ev("lead", "task.created", { id, nested: { ids: [id, "other"] } })] };
      });
      expect(t.id).toBe("2");
      expect(t.activeForm).toBe("2");
      const stored = (await store.getTask("t", "2"))!;
      expect(stored.id).toBe("2");
      expect(stored.activeForm).toBe("2");
      expect(stored.fenced).toEqual([{ agent: "2", session: "s", at: newTask("x", "y").createdAt, reason: "2" }]);
      expect((await store.readEvents("t")).at(-1)!.data).toEqual({ id: "2", nested: { ids: ["2", "other"] } });
      // A provisional id may or may not look like the final one: only its replacement is promised.
      expect(typeof seen).toBe("string");
    });

    it("editTask writes the rule's copy with its events; returns the rule's value and the stored task", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "a") }));
      const r = await store.editTask("t", "1", (t) => {
        t.status = "in_progress";
        t.owner = "bob";
        return { value: "claimed", write: true, events: [ev("bob", "task.claimed", { id: t.id })] };
      });
      expect(r.value).toBe("claimed");
      expect(r.written).toBe(true);
      expect(r.current).toMatchObject({ id: "1", status: "in_progress", owner: "bob" });
      const stored = await s.open().getTask("t", "1");
      expect(stored).toEqual(r.current);
      expect((await store.listTasks("t"))[0]).toMatchObject({ status: "in_progress", owner: "bob" });
      expect(await kindsAfter("t")).toEqual(["task.claimed"]);
    });

    it("editTask with write: false changes and logs nothing, and `current` is the task as stored", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "a") }));
      const r = await store.editTask("t", "1", (t) => {
        t.subject = "tentative";
        return { value: 0, write: false, events: [ev("x", "ignored")] };
      });
      expect(r.written).toBe(false);
      expect(await store.getTask("t", "1")).toEqual(newTask("1", "a"));
      expect(await store.readEvents("t")).toEqual([]);
      // "the value as stored after it" (types.ts: Edited)
      expect(r.current).toEqual(newTask("1", "a"));
    });

    it("a rule or build that throws writes nothing and logs nothing", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "a") }));
      const boom = new Error("rule refused");
      expect(await failure(store.editTask("t", "1", (t) => { t.owner = "x"; throw boom; }))).toBe(boom);
      expect(await failure(store.createTask("t", () => { throw boom; }))).toBe(boom);
      expect(await failure(store.transact("t", async (tx) => {
        const t = (await tx.get("1"))!;
        t.owner = "x";
        tx.put(t);
        await tx.create((id) => newTask(id, "never"));
        tx.event(ev("x", "never"));
        throw boom;
      }))).toBe(boom);
      expect(await failure(store.editDoc("t", "c", "k", () => { throw boom; }))).toBe(boom);
      expect(await failure(store.editTeam("t", (c) => { c.description = "x"; throw boom; }))).toBe(boom);
      expect(await store.getTask("t", "1")).toEqual(newTask("1", "a"));
      expect((await store.listTasks("t")).map((r) => r.id)).toEqual(["1"]);
      expect(await store.getDoc("t", "c", "k")).toBeUndefined();
      expect((await store.getTeam("t"))!.description).toBe("contract");
      expect(await store.readEvents("t")).toEqual([]);
    });

    it("editTask of a missing task is NOT_FOUND", async () => {
      for (const id of ["1", "999", "abc"]) {
        const e = await failure(store.editTask("t", id, () => ({ value: 0, write: true })));
        expect(e.code).toBe("NOT_FOUND");
        expect(e.message).toContain(id);
      }
    });

    it("dependency edges change only in a transaction: editTask refuses (CONFLICT), transact writes them", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "a") }));
      await store.createTask("t", (id) => ({ task: newTask(id, "b") }));
      const e = await failure(store.editTask("t", "2", (t) => { t.blockedBy.push("1"); return { value: 0, write: true }; }));
      expect(e.code).toBe("CONFLICT");
      expect((await store.getTask("t", "2"))!.blockedBy).toEqual([]);
      await store.transact("t", async (tx) => {
        const [a, b] = [(await tx.get("1"))!, (await tx.get("2"))!];
        a.blocks.push("2");
        b.blockedBy.push("1");
        tx.put(a);
        tx.put(b);
      });
      expect((await store.getTask("t", "2"))!.blockedBy).toEqual(["1"]);
      expect((await store.listTasks("t")).map((r) => [r.id, r.blocks, r.blockedBy])).toEqual([["1", ["2"], []], ["2", [], ["1"]]]);
    });

    it("transact: created tasks get their final ids in every write, event and the returned value; get/list see the transaction's own changes", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "blocker") }));
      const out = await store.transact("t", async (tx) => {
        const a = await tx.create((id) => newTask(id, "child a"));
        const b = await tx.create((id) => newTask(id, "child b", { blockedBy: [a.id] }));
        a.blocks.push(b.id);
        tx.put(a);
        const blocker = (await tx.get("1"))!;
        blocker.blocks.push(a.id, b.id);
        a.blockedBy.push("1");
        b.blockedBy.push("1");
        tx.put(blocker);
        expect(await tx.get(a.id)).toBe(a);
        const rows = await tx.list();
        expect(rows.map((r) => r.subject)).toEqual(expect.arrayContaining(["blocker", "child a", "child b"]));
        expect(rows.find((r) => r.subject === "blocker")!.blocks).toEqual([a.id, b.id]);
        tx.event(ev("lead", "tasks.linked", { ids: [a.id, b.id] }));
        return { a: a.id, b: b.id, pair: [a.id, { inner: b.id }] };
      });
      expect(out).toEqual({ a: "2", b: "3", pair: ["2", { inner: "3" }] });
      expect((await store.getTask("t", "1"))!.blocks).toEqual(["2", "3"]);
      expect(await store.getTask("t", "2")).toMatchObject({ id: "2", subject: "child a", blocks: ["3"], blockedBy: ["1"] });
      expect(await store.getTask("t", "3")).toMatchObject({ id: "3", subject: "child b", blockedBy: ["2", "1"] });
      expect((await store.readEvents("t")).at(-1)!.data).toEqual({ ids: ["2", "3"] });
      expect((await store.createTask("t", (id) => ({ task: newTask(id, "next") }))).id).toBe("4");
    });

    it("transact: put() of a task created in the same transaction writes the object put", async () => {
      const id = await store.transact("t", async (tx) => {
        const a = await tx.create((id) => newTask(id, "as created"));
        tx.put({ ...a, subject: "as put", activeForm: a.id });
        return a.id;
      });
      expect(await store.getTask("t", id)).toMatchObject({ id, subject: "as put", activeForm: id });
    });

    it("transact: fn may run more than once; its result is the one of the run that wrote, and no concurrent write is lost", async () => {
      await store.createTask("t", (id) => ({ task: newTask(id, "a") }));
      await store.createTask("t", (id) => ({ task: newTask(id, "b") }));
      const other = s.open();
      let runs = 0;
      let concurrent: Promise<unknown> | undefined;
      const value = await store.transact("t", async (tx) => {
        const run = ++runs;
        const a = (await tx.get("1"))!;
        // Another writer changes a task this transaction read, while it runs (not awaited: a store may make it wait for us).
        concurrent ??= other.editTask("t", "1", (t) => { t.activeForm = "edited meanwhile"; return { value: 0, write: true }; });
        await sleep(100);
        a.blocks.push("2");
        tx.put(a);
        const b = (await tx.get("2"))!;
        b.blockedBy.push("1");
        tx.put(b);
        return run;
      });
      await concurrent;
      expect(value).toBe(runs);
      const a = (await store.getTask("t", "1"))!;
      expect(a.blocks).toEqual(["2"]);
      expect(a.activeForm).toBe("edited meanwhile");
    });

    it("editFirst runs the rule on the first candidate in the given order, skipping nulls; undefined when none takes it", async () => {
      for (let i = 1; i <= 4; i++) await store.createTask("t", (id) => ({ task: newTask(id, `s${i}`, { status: i === 3 ? "completed" : "pending" }) }));
      const claim = (t: Task) => {
        if (t.status !== "pending" || t.owner) return null;
        t.owner = "bob";
        t.status = "in_progress";
        return { value: t.id, write: true, events: [ev("bob", "task.claimed", { id: t.id })] };
      };
      const r1 = await store.editFirst("t", ["3", "4", "1", "999", "abc"], claim);
      expect(r1).toMatchObject({ value: "4", written: true, current: { id: "4", owner: "bob" } });
      expect((await store.editFirst("t", ["3", "4", "1"], claim))!.value).toBe("1");
      expect(await store.editFirst("t", ["3", "4", "1"], claim)).toBeUndefined();
      expect(await store.editFirst("t", [], claim)).toBeUndefined();
      expect((await store.getTask("t", "2"))!.owner).toBeUndefined();
      expect((await store.readEvents("t")).map((e) => e.data.id)).toEqual(["4", "1"]);
    });
  });

  // ---- events --------------------------------------------------------------------

  describe("the event log", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("appendEvents: seq is gapless from 1 and strictly increasing; readEvents pages by seq; every field is kept", async () => {
      const before = await store.now();
      await store.appendEvents("t", [ev("a", "one", { n: 1, nested: { x: [1, 2] } }), ev("b", "two")]);
      await store.appendEvents("t", []);
      for (let i = 0; i < 8; i++) await store.appendEvents("t", [ev("c", "more", { i })]);
      const all = await store.readEvents("t");
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(all[0]).toMatchObject({ seq: 1, actor: "a", kind: "one", data: { n: 1, nested: { x: [1, 2] } } });
      expect(all[1]).toMatchObject({ seq: 2, actor: "b", kind: "two", data: {} });
      for (const e of all) {
        expect(new Date(e.time).toISOString()).toBe(e.time);
        expect(timeMs(e.time)).toBeGreaterThanOrEqual(before - 1000);
      }
      expect((await store.readEvents("t", 7)).map((e) => e.seq)).toEqual([8, 9, 10]);
      expect((await store.readEvents("t", 2, 3)).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect(await store.readEvents("t", 10)).toEqual([]);
      expect((await s.open().readEvents("t")).length).toBe(10);
    });
  });

  // ---- messages ------------------------------------------------------------------

  describe("messages", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("deliver, unread (oldest first) and unreadCount, per inbox", async () => {
      expect(await store.unread("t", "bob")).toEqual([]);
      expect(await store.unreadCount("t", "bob")).toBe(0);
      await store.deliver("t", [message("m1", "bob"), message("m2", "carol")], [ev("alice", "message.sent", { n: 2 })]);
      await store.deliver("t", [message("m3", "bob")]);
      expect(await store.unread("t", "bob")).toEqual([message("m1", "bob"), message("m3", "bob")]);
      expect(await store.unreadCount("t", "bob")).toBe(2);
      expect(await store.unreadCount("t", "carol")).toBe(1);
      expect(await kindsAfter("t")).toEqual(["message.sent"]);
    });

    it("markRead by ids marks only those and returns each once; logs message.read {agent, count, ids} as the actor", async () => {
      await store.deliver("t", ["m1", "m2", "m3"].map((id) => message(id, "bob")));
      const seq = await lastSeq("t");
      const r = await store.markRead("t", "bob", ["m3", "m1", "unknown"], "bob");
      expect(r.map((m) => m.id)).toEqual(["m1", "m3"]);
      expect(r.every((m) => m.read)).toBe(true);
      expect(await store.markRead("t", "bob", ["m1"], "bob")).toEqual([]);
      expect(await store.markRead("t", "bob", [], "bob")).toEqual([]);
      expect((await store.unread("t", "bob")).map((m) => m.id)).toEqual(["m2"]);
      const evs = await store.readEvents("t", seq);
      expect(evs).toHaveLength(1);
      expect(evs[0]).toMatchObject({ actor: "bob", kind: "message.read", data: { agent: "bob", count: 2, ids: ["m1", "m3"] } });
    });

    it("markRead all marks every unread message; none left: returns [] and logs nothing", async () => {
      await store.deliver("t", Array.from({ length: 60 }, (_, i) => message(`m${i}`, "bob")));
      await store.deliver("t", [message("c1", "carol")]);
      const seq = await lastSeq("t");
      const r = await store.markRead("t", "bob", "all", "team-lead");
      expect(r.map((m) => m.id)).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
      const evs = await store.readEvents("t", seq);
      expect(evs).toHaveLength(1);
      expect(evs[0].actor).toBe("team-lead");
      expect(evs[0].data).toEqual({ agent: "bob", count: 60, ids: Array.from({ length: 50 }, (_, i) => `m${i + 10}`) });
      expect(await store.markRead("t", "bob", "all", "team-lead")).toEqual([]);
      expect(await store.readEvents("t", seq + 1)).toEqual([]);
      expect(await store.unreadCount("t", "bob")).toBe(0);
      expect(await store.unreadCount("t", "carol")).toBe(1);
    });

    it("history pages back from the newest, read and unread alike", async () => {
      for (let b = 0; b < 5; b++) await store.deliver("t", Array.from({ length: 50 }, (_, i) => message(`m${b * 50 + i}`, "bob")));
      await store.markRead("t", "bob", ["m0", "m249"], "bob");
      const ids = (p: { messages: { id: string }[] }) => p.messages.map((m) => m.id);
      const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `m${a + i}`);
      const p1 = await store.history("t", "bob");
      expect(p1.total).toBe(250);
      expect(ids(p1)).toEqual(range(150, 250));
      expect(p1.messages.at(-1)!.read).toBe(true);
      expect(p1.nextBefore).toBe(150);
      const p2 = await store.history("t", "bob", { before: p1.nextBefore });
      expect(ids(p2)).toEqual(range(50, 150));
      const p3 = await store.history("t", "bob", { before: p2.nextBefore });
      expect(ids(p3)).toEqual(range(0, 50));
      expect(p3.messages[0].read).toBe(true);
      expect(p3.nextBefore).toBeUndefined();
      expect(ids(await store.history("t", "bob", { limit: 3 }))).toEqual(range(247, 250));
      expect(await store.history("t", "nobody")).toEqual({ messages: [], total: 0 });
    });
  });

  // ---- presence ------------------------------------------------------------------

  describe("presence", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("putPresence creates and merges; heartbeatAt is stamped with the store's clock unless the patch sets it", async () => {
      expect(await store.getPresence("t", "bob")).toBeUndefined();
      const before = await store.now();
      const p1 = await store.putPresence("t", "bob", { pid: 4242, host: "hostA", state: "starting" });
      const after = await store.now();
      expect(p1).toMatchObject({ agent: "bob", pid: 4242, host: "hostA", state: "starting" });
      expect(timeMs(p1.heartbeatAt)).toBeGreaterThanOrEqual(before - 50);
      expect(timeMs(p1.heartbeatAt)).toBeLessThanOrEqual(after + 50);
      await sleep(20);
      const p2 = await store.putPresence("t", "bob", { state: "busy", currentTask: "3" });
      expect(p2).toMatchObject({ agent: "bob", pid: 4242, host: "hostA", state: "busy", currentTask: "3", startedAt: p1.startedAt });
      expect(timeMs(p2.heartbeatAt)).toBeGreaterThan(timeMs(p1.heartbeatAt));
      const fixed = "2030-01-01T00:00:00.000Z";
      expect((await store.putPresence("t", "bob", { heartbeatAt: fixed })).heartbeatAt).toBe(fixed);
      expect(await s.open().getPresence("t", "bob")).toEqual({ ...p2, heartbeatAt: fixed });
      await store.putPresence("t", "carol", { state: "idle", pid: 1, host: "h" });
      expect((await store.listPresence("t")).map((p) => p.agent).sort()).toEqual(["bob", "carol"]);
      await store.removePresence("t", "bob");
      await store.removePresence("t", "nobody");
      expect(await store.getPresence("t", "bob")).toBeUndefined();
      expect((await store.listPresence("t")).map((p) => p.agent)).toEqual(["carol"]);
    });

    it("with an injected clock, heartbeats are stamped by it", async () => {
      const at = Date.UTC(2031, 4, 6, 7, 8, 9);
      const clocked = s.open({ now: () => at });
      expect(await clocked.now()).toBe(at);
      const p: Runtime = await clocked.putPresence("t", "bob", { state: "idle" });
      expect(p.heartbeatAt).toBe(new Date(at).toISOString());
    });
  });

  // ---- documents -----------------------------------------------------------------

  describe("documents", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("editDoc creates, changes and deletes a document atomically with its events; undefined changes nothing", async () => {
      expect(await store.getDoc("t", "res", "src/a.ts")).toBeUndefined();
      const v1 = await store.editDoc<{ owner: string }, string>("t", "res", "src/a.ts", (cur) => {
        expect(cur).toBeUndefined();
        return { value: "made", write: { owner: "bob" }, events: [ev("bob", "reserved")] };
      });
      expect(v1).toBe("made");
      await store.editDoc<{ owner: string }, void>("t", "res", "src/b.ts", () => ({ value: undefined, write: { owner: "carol" } }));
      expect(await store.getDoc("t", "res", "src/a.ts")).toEqual({ owner: "bob" });
      expect((await store.listDocs("t", "res")).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: "src/a.ts", value: { owner: "bob" } },
        { key: "src/b.ts", value: { owner: "carol" } },
      ]);
      const n = await store.editDoc<{ owner: string }, number>("t", "res", "src/a.ts", (cur) => ({ value: cur!.owner.length, events: [ev("x", "ignored")] }));
      expect(n).toBe(3);
      await store.editDoc<{ owner: string }, void>("t", "res", "src/a.ts", (cur) => {
        cur!.owner = "mutated copy";
        return { value: undefined };
      });
      expect(await store.getDoc("t", "res", "src/a.ts")).toEqual({ owner: "bob" });
      await store.editDoc("t", "res", "src/a.ts", () => ({ value: 0, write: null, events: [ev("bob", "released")] }));
      expect(await store.getDoc("t", "res", "src/a.ts")).toBeUndefined();
      expect((await store.listDocs("t", "res")).map((d) => d.key)).toEqual(["src/b.ts"]);
      expect(await store.listDocs("t", "other")).toEqual([]);
      expect(await kindsAfter("t")).toEqual(["reserved", "released"]);
    });
  });

  // ---- locks, clock, environment -------------------------------------------------------

  describe("locks, clock and environment", () => {
    beforeEach(async () => {
      await store.createTeam(config("t"));
    });

    it("withLock: one holder at a time per name, its value returned, released after a throw; other names do not wait", async () => {
      const other = s.open();
      let inside = 0;
      let most = 0;
      const hold = async (st: TeamStore, i: number) => st.withLock("t", "spawn:bob", async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(15);
        inside--;
        return i;
      });
      const values = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => hold(i % 2 ? other : store, i)));
      expect(values).toEqual([0, 1, 2, 3, 4, 5]);
      expect(most).toBe(1);
      await expect(store.withLock("t", "spawn:bob", async () => { throw new Error("inside"); })).rejects.toThrow("inside");
      expect(await store.withLock("t", "spawn:bob", async () => "again")).toBe("again");
      // A different name is not held up by a holder of another one.
      let release!: () => void;
      const holding = store.withLock("t", "spawn:carol", () => new Promise<void>((r) => (release = r)));
      await sleep(50);
      const t0 = Date.now();
      expect(await other.withLock("t", "spawn:dave", async () => "free")).toBe("free");
      expect(Date.now() - t0).toBeLessThan(2000);
      release();
      await holding;
    });

    it("now() is the store's clock, in ms since the epoch, close to this host's", async () => {
      const a = await store.now();
      await sleep(30);
      const b = await store.now();
      expect(Math.abs(a - Date.now())).toBeLessThan(1000);
      expect(b - a).toBeGreaterThanOrEqual(20);
    });

    it("location says where the data is, without a password; childEnv selects this store", async () => {
      const env = store.childEnv();
      if (kind === "postgres") {
        const url = new URL(env.CLANKER_TEAMS_DB);
        expect(url.password.length).toBeGreaterThan(0);
        expect(store.location).not.toContain(url.password);
        expect(store.location).toContain(`${url.host}${url.pathname}`);
      } else expect(env.CLANKER_TEAMS_DIR).toBe(store.location);
    });
  });
});
