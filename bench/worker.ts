/**
 * Child process for the benchmarks. Protocol over IPC:
 * parent → {init, role, store, args}; the worker opens its store, does its
 * set-up and a warm-up (first-call compilation is start-up, never measured)
 * and answers {ready}; parent → {run, id, phase, args} any number of times,
 * each answered by {done, id, start, end, cpuMs, result}; parent → {exit}.
 * Every role also has the phase "prim": the contended primitive (prims.ts)
 * from this same process, right before the scenario.
 */
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import {
  makeCtx, newSession, sendMessage, createTask, updateTask, claimTask, readInbox, markRead, unreadPeek, writePresence, appendEvent,
  type Ctx, type UpdateTaskInput,
} from "../src/index.js";
import { appendSyncSamples, pgConnect, pgInsertSamples } from "./prims.js";
import { installFsCounter, type FsCounter } from "./fs-counter.js";
import { nowAbs, sleep, type FromWorker, type StoreRef } from "./util.js";

type Args = Record<string, unknown>;
type Init = { type: "init"; role: string; store: StoreRef; args: Args };
type Phase = (args: Args) => Promise<unknown>;
type Role = (init: Init) => Promise<Record<string, Phase>>;

function post(m: FromWorker): void {
  process.send?.(m);
}

let phases: Record<string, Phase> = {};
let queue: Promise<void> = Promise.resolve();

process.on("message", (m: { type: string; id?: number; phase?: string; args?: Args }) => {
  if (m.type === "init") void init(m as unknown as Init);
  else if (m.type === "run") queue = queue.then(() => run(m.id!, m.phase!, m.args ?? {}));
  else if (m.type === "exit") process.exit(0);
});
process.on("disconnect", () => process.exit(0));

/**
 * Durable writes (JSON: fdatasync/fsync calls) or statements (PostgreSQL:
 * queries sent by the pg client) this process made: counted for every phase,
 * so a scenario can say how many each operation costs. Negligible overhead.
 */
let io = 0;
/** How long each of those fdatasync/fsync calls took (JSON store), ms. */
const ioLat: number[] = [];
async function countIo(store: StoreRef): Promise<void> {
  if (store.db) {
    const pg = (await import("pg")).default;
    const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
    const orig = proto.query;
    proto.query = function (this: unknown, ...a: unknown[]) { io++; return orig.apply(this, a); };
    return;
  }
  const mod = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["fdatasyncSync", "fsyncSync"]) {
    const orig = mod[name];
    mod[name] = function (this: unknown, ...a: unknown[]) {
      io++;
      const t0 = performance.now();
      try { return orig.apply(this, a); } finally { ioLat.push(performance.now() - t0); }
    };
  }
}

async function init(m: Init): Promise<void> {
  try {
    if (m.role !== "inodes") await countIo(m.store);
    const r = ROLES[m.role];
    if (!r) throw new Error(`unknown role ${m.role}`);
    role = m.role;
    phases = { prim: primPhase(m), ...(await r(m)) };
    post({ type: "ready" });
  } catch (e) {
    post({ type: "error", message: (e as Error).stack ?? String(e) });
    setTimeout(() => process.exit(1), 100);
  }
}

/**
 * CLANKER_BENCH_CPU_PROF=DIR: a V8 CPU profile of each measured phase (not
 * start-up, warm-up or the primitive), DIR/<role>-<pid>-<phase>-<n>.cpuprofile;
 * summarize them with `node dist/bench/cpuprofile.js DIR`.
 */
const profDir = process.env.CLANKER_BENCH_CPU_PROF;
let session: import("node:inspector").Session | undefined;
let role = "";
async function profiled<T>(phase: string, id: number, fn: () => Promise<T>): Promise<T> {
  if (!profDir || phase === "prim") return fn();
  const inspector = await import("node:inspector");
  if (!session) { session = new inspector.Session(); session.connect(); }
  const s = session;
  const post = (method: string, params?: object) => new Promise<unknown>((res, rej) => s.post(method, params ?? {}, (e, r) => (e ? rej(e) : res(r))));
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 200 });
  await post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = (await post("Profiler.stop")) as { profile: unknown };
    fs.mkdirSync(profDir, { recursive: true });
    fs.writeFileSync(`${profDir}/${role}-${process.pid}-${phase}-${id}.cpuprofile`, JSON.stringify(profile));
  }
}

async function run(id: number, phase: string, args: Args): Promise<void> {
  const fn0 = phases[phase];
  const fn = fn0 && ((a: Args) => profiled(phase, id, () => fn0(a)));
  try {
    if (!fn0) throw new Error(`role has no phase ${phase}`);
    const cpu0 = process.cpuUsage();
    const io0 = io;
    const ioLat0 = ioLat.length;
    const start = nowAbs();
    const result = await fn(args);
    const end = nowAbs();
    const d = process.cpuUsage(cpu0);
    post({ type: "done", id, phase, start, end, cpuMs: (d.user + d.system) / 1000, sysMs: d.system / 1000, io: io - io0, ioLat: ioLat.slice(ioLat0), result });
  } catch (e) {
    post({ type: "error", id, message: (e as Error).stack ?? String(e) });
  }
}

function ctxFor(store: StoreRef, actor: string, env: NodeJS.ProcessEnv = process.env): Ctx {
  // A session per process, as an agent host has: claims record it.
  return makeCtx({ dataDir: store.dataDir, db: store.db, actor, session: newSession(), env });
}

/** The contended primitive from this process: appends + fdatasync to one shared file, or INSERTs on its own connection. */
function primPhase(init: Init): Phase {
  let pg: Promise<import("pg").Client> | undefined;
  const p = init.args.prim as { kind: "append"; file: string } | { kind: "pg"; url: string } | undefined;
  // Connect during set-up, so that the phase starts together in every process.
  if (p?.kind === "pg") { pg = pgConnect(p.url); pg.catch(() => undefined); }
  return async (args) => {
    const count = Number(args.count);
    if (!p) throw new Error("no primitive configured for this worker");
    if (p.kind === "append") return appendSyncSamples(p.file, count, 3);
    const c = await pg!;
    const r = await pgInsertSamples(c, count, 3);
    return r;
  };
}

// ---- roles --------------------------------------------------------------------------------

const ROLES: Record<string, Role> = {
  /** `count` sends from `name` to `to`. */
  async sends(init) {
    const { team, name, to, warmupTo } = init.args as { team: string; name: string; to: string; warmupTo: string };
    const ctx = ctxFor(init.store, name);
    // Warm-up to another inbox, so the measured inbox gets exactly `count` messages.
    await sendMessage(ctx, team, { recipient: warmupTo, content: `warm-up from ${name}`, summary: "warm-up" });
    return {
      async main(args) {
        const count = Number(args.count);
        const lat: number[] = [];
        const sent: { id: string; content: string; summary: string }[] = [];
        for (let i = 0; i < count; i++) {
          const content = `${name}#${i} ${"lorem ipsum ".repeat(6)}`;
          const summary = `bench send ${i}`;
          const t0 = performance.now();
          const m = await sendMessage(ctx, team, { recipient: to, content, summary });
          lat.push(performance.now() - t0);
          sent.push({ id: m.id, content, summary });
        }
        return { lat, sent };
      },
    };
  },

  /** `creates` task creates, then 2 updates per task, interleaved like a working agent. */
  async tasks(init) {
    const { team, warmTeam, name } = init.args as { team: string; warmTeam: string; name: string };
    const ctx = ctxFor(init.store, name);
    // Warm-up of the write paths on another team: one create, a claim, a progress update.
    const wt = await createTask(ctx, warmTeam, { subject: `warm-up of ${name}`, description: "" });
    await updateTask(ctx, warmTeam, wt.id, { owner: name, status: "in_progress" });
    await updateTask(ctx, warmTeam, wt.id, { active_form: "warming up" });
    return { main: (args) => taskWork(ctx, team, name, Number(args.creates)) };
  },

  /** Claims the next free task until none is left. */
  async claimer(init) {
    const { team, warmTeam, name } = init.args as { team: string; warmTeam: string; name: string };
    const ctx = ctxFor(init.store, name);
    const w = await claimTask(ctx, warmTeam);
    if (!w.task) throw new Error(`warm-up claim failed: ${w.reason}`);
    return {
      async main() {
        const claims: { id: string; ms: number; epoch?: number }[] = [];
        for (;;) {
          const t0 = performance.now();
          const r = await claimTask(ctx, team);
          const ms = performance.now() - t0;
          if (!r.task) return { claims, last: r.reason };
          claims.push({ id: r.task.id, ms, epoch: r.task.epoch as number | undefined });
        }
      },
    };
  },

  /** Reads its own inbox on request (marking read). */
  async reader(init) {
    const { team, name } = init.args as { team: string; name: string };
    const ctx = ctxFor(init.store, name);
    await readInbox(ctx, team);
    return {
      async read() {
        const t0 = performance.now();
        const r = await readInbox(ctx, team);
        const ms = performance.now() - t0;
        return { ms, msgs: r.messages.map((m) => ({ id: m.id, content: m.content })) };
      },
    };
  },

  /** Sends one message on request; reports when the call started and returned. */
  async sender(init) {
    const { team, name, warmupTo } = init.args as { team: string; name: string; warmupTo: string };
    const ctx = ctxFor(init.store, name);
    await sendMessage(ctx, team, { recipient: warmupTo, content: "warm-up", summary: "warm-up" });
    return {
      async send(args) {
        const t0 = nowAbs();
        const m = await sendMessage(ctx, team, { recipient: String(args.to), content: String(args.content), summary: String(args.summary) });
        return { t0, t1: nowAbs(), id: m.id };
      },
    };
  },

  /**
   * Waits idle with a watch on its inbox (as the pi extension does); on a
   * change it reads the inbox and posts each message it got, with the time.
   */
  async waiter(init) {
    const { team, name } = init.args as { team: string; name: string };
    const ctx = ctxFor(init.store, name);
    await readInbox(ctx, team);
    let running = false;
    let again = false;
    const drain = async () => {
      if (running) { again = true; return; }
      running = true;
      try {
        do {
          again = false;
          const r = await readInbox(ctx, team);
          const at = nowAbs();
          for (const m of r.messages) post({ type: "event", name: "msg", at, data: { id: m.id, content: m.content, summary: m.summary, from: m.from } });
        } while (again);
      } catch (e) {
        post({ type: "error", message: `waiter: ${(e as Error).stack ?? e}` });
      } finally {
        running = false;
      }
    };
    ctx.store.watch(team, { inbox: name }, () => void drain());
    return {};
  },

  /** History of `history` messages to `reader` (read every 250, as in real use), then sends and empty checks timed. */
  async history(init) {
    const { team, sender, reader, history } = init.args as { team: string; sender: string; reader: string; history: number };
    const s = ctxFor(init.store, sender);
    const r = ctxFor(init.store, reader);
    const t0 = performance.now();
    for (let i = 0; i < history; i++) {
      await sendMessage(s, team, { recipient: reader, content: `history message ${i}: ${"lorem ipsum ".repeat(8)}`, summary: `history ${i}` });
      if (i % 250 === 249) await readInbox(r, team);
    }
    await readInbox(r, team);
    const buildMs = performance.now() - t0;
    const time = async (n: number, warm: number, fn: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < warm; i++) await fn(-1 - i);
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = performance.now();
        await fn(i);
        out.push(performance.now() - a);
      }
      return out;
    };
    return {
      async main(args) {
        const n = Number(args.samples);
        const send = await time(n, 10, (i) => sendMessage(s, team, { recipient: reader, content: `probe ${i}`, summary: "probe" }));
        const drained = (await readInbox(r, team)).messages.length;
        const empty = await time(n * 2, 20, () => readInbox(r, team, { unread_only: true }));
        const emptyUnread = (await unreadPeek(r, team, reader)).length;
        return { buildMs, send, empty, drained, emptyUnread };
      },
    };
  },

  /** Takes a named lock and holds it until killed. */
  async lockholder(init) {
    const { team, name } = init.args as { team: string; name: string };
    const ctx = ctxFor(init.store, "team-lead");
    return {
      async hold() {
        setInterval(() => undefined, 1000);
        void ctx.store.withLock(team, name, async () => {
          post({ type: "event", name: "locked", at: nowAbs() });
          await new Promise(() => undefined);
        });
        await new Promise(() => undefined);
      },
    };
  },

  /** Takes a named lock once; reports when it got it. */
  async lockwaiter(init) {
    const { team, name } = init.args as { team: string; name: string };
    const ctx = ctxFor(init.store, "team-lead");
    await ctx.store.withLock(team, `${name}-warm-up`, async () => undefined);
    return {
      async take() {
        let at = 0;
        await ctx.store.withLock(team, name, async () => { at = nowAbs(); });
        return { at };
      },
    };
  },

  /** A teammate with presence and heartbeats that claims a task, then waits to be killed. */
  async owner(init) {
    const { team, name, taskId, heartbeatMs } = init.args as { team: string; name: string; taskId: string; heartbeatMs: number };
    const ctx = ctxFor(init.store, name);
    await writePresence(ctx, team, name, { state: "busy", startedAt: new Date().toISOString(), currentTask: taskId });
    return {
      async claim() {
        const r = await claimTask(ctx, team, taskId);
        if (!r.task) throw new Error(`claim failed: ${r.reason}`);
        void (async () => {
          // Heartbeats as the extension keeps them.
          for (;;) {
            await sleep(heartbeatMs);
            await writePresence(ctx, team, name, { state: "busy" });
            post({ type: "event", name: "heartbeat", at: nowAbs() });
          }
        })();
        return { id: r.task.id, owner: r.task.owner };
      },
    };
  },

  /** New inodes and file calls per operation on the hot paths (fs-counter.ts); JSON store only. */
  async inodes(init) {
    const { team, lead, mate } = init.args as { team: string; lead: string; mate: string };
    const counter = installFsCounter(init.store.dataDir!);
    const L = ctxFor(init.store, lead);
    const M = ctxFor(init.store, mate);
    // Warm-up: every path once, then the files current.
    const warmTask = await createTask(M, team, { subject: "warm-up", description: "" });
    await updateTask(M, team, warmTask.id, { active_form: "warm" });
    await sendMessage(M, team, { recipient: lead, content: "warm", summary: "warm" });
    await readInbox(L, team);
    await appendEvent(L, team, "bench.warm", {});
    await L.store.flush();
    return { main: (args) => inodeRun(counter, L, M, team, lead, args) };
  },
};

interface Expected { id: string; subject: string; description: string; status: string; owner?: string; activeForm?: string }

/** The tasks workload of one process; returns latencies and what every task must look like afterwards. */
async function taskWork(ctx: Ctx, team: string, name: string, creates: number) {
  const createLat: number[] = [];
  const updateLat: number[] = [];
  const expected: Expected[] = [];
  for (let j = 0; j < creates; j++) {
    const subject = `${name} task ${j}`;
    const description = `original description of ${name}/${j}`;
    const t0 = performance.now();
    const t = await createTask(ctx, team, { subject, description });
    createLat.push(performance.now() - t0);
    expected.push({ id: t.id, subject, description, status: "pending" });
  }
  const upd = async (e: Expected, input: UpdateTaskInput) => {
    const t0 = performance.now();
    await updateTask(ctx, team, e.id, input);
    updateLat.push(performance.now() - t0);
  };
  const followUp = async (j: number) => {
    const e = expected[j];
    const r = j % 10;
    if (r < 5) {
      const af = `${name}: working on step ${j}`;
      await upd(e, { active_form: af });
      e.activeForm = af;
    } else if (r < 8) {
      const d = `edited description of ${name}/${j}: now with acceptance criteria`;
      await upd(e, { description: d });
      e.description = d;
    } else {
      await upd(e, { status: "completed" });
      e.status = "completed";
    }
  };
  // Claim task j (owner = self, in progress), then follow up on task j-1.
  for (let j = 0; j < creates; j++) {
    const e = expected[j];
    await upd(e, { owner: name, status: "in_progress" });
    e.owner = name;
    e.status = "in_progress";
    if (j > 0) await followUp(j - 1);
  }
  if (creates > 0) await followUp(creates - 1);
  return { createLat, updateLat, expected };
}

/**
 * Inode accounting: `n` operations of each kind back to back (a burst, then
 * flush), and `spaced` more with a pause longer than the materialize interval
 * between them (an idle agent's pattern: every operation is followed by a
 * rewrite of the derived files). Counts files and directories created during
 * the operation calls ("commit path") and outside them (timers, flush).
 */
async function inodeRun(counter: FsCounter, L: Ctx, M: Ctx, team: string, lead: string, args: Args) {
  const n = Number(args.n);
  const spaced = Number(args.spaced);
  const gapMs = Number(args.gapMs);
  const taskIds: string[] = [];
  for (let i = 0; i < 4; i++) taskIds.push((await createTask(M, team, { subject: `inode probe ${i}`, description: "" })).id);
  await L.store.flush();
  // Prepared unread messages for the reads (one read marks one message).
  const prepare = async (k: number) => {
    const ids: string[] = [];
    for (let i = 0; i < k; i++) ids.push((await sendMessage(M, team, { recipient: lead, content: `to read ${i}`, summary: "r" })).id);
    await L.store.flush();
    return ids;
  };
  const kinds: Record<string, (i: number, ids: string[]) => Promise<unknown>> = {
    send: (i) => sendMessage(M, team, { recipient: lead, content: `inode probe ${i}`, summary: "probe" }),
    read: (i, ids) => markRead(L, team, lead, [ids[i]]),
    update: (i) => updateTask(M, team, taskIds[i % taskIds.length], { active_form: `step ${i}` }),
    event: (i) => appendEvent(L, team, "bench.probe", { i }),
    create: (i) => createTask(M, team, { subject: `inode create ${i}`, description: "" }),
  };
  const out: Record<string, unknown> = {};
  for (const [kind, op] of Object.entries(kinds)) {
    const res: Record<string, unknown> = {};
    for (const mode of ["burst", "spaced"] as const) {
      const k = mode === "burst" ? n : spaced;
      const ids = kind === "read" ? await prepare(k) : [];
      await sleep(20);
      const entries0 = counter.entries();
      counter.reset();
      for (let i = 0; i < k; i++) {
        counter.inOp = true;
        try { await op(i, ids); } finally { counter.inOp = false; }
        if (mode === "spaced") await sleep(gapMs);
      }
      await L.store.flush();
      await M.store.flush();
      const c = counter.snapshot();
      res[mode] = { ops: k, ...c, netEntries: counter.entries() - entries0 };
    }
    out[kind] = res;
  }
  return out;
}

