/**
 * A worker process for the store contract tests (test/contract/): opens the
 * store an environment selects (CLANKER_TEAMS_DB, else CLANKER_TEAMS_DIR) from
 * the compiled dist/, like a teammate on another host would, and does jobs.
 * It uses only the store layer, so it runs whatever state the domain is in.
 *
 * Two ways to run it:
 * - `store-worker.mjs serve`: prints "ready", then runs one job per stdin line
 *   (JSON {env, job: [mode, team, ...args]}) and prints "result <json>" after
 *   each. A test starts a pool once and races many jobs on it (starting 8
 *   node processes per test would cost more than the races).
 * - `store-worker.mjs MODE TEAM ARGS… [--wait]`: one job with the process's
 *   environment (protocol of test/procs/common.mjs: "ready", then with --wait
 *   a stdin line before starting), for jobs that hold or read stdin.
 */
import fs from "node:fs";

const dist = new URL("../../dist/src/", import.meta.url);
const { openStore } = await import(new URL("store/open.js", dist));

const say = (line) => process.stdout.write(line + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const task = (id, subject) => ({ id, subject, description: "", status: "pending", blocks: [], blockedBy: [], createdAt: now(), updatedAt: now() });

/** stdin as a line reader. */
function lineReader() {
  let buf = "";
  const waiting = [];
  const lines = [];
  process.stdin.on("data", (b) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  process.stdin.on("end", () => { for (const w of waiting.splice(0)) w("quit"); });
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiting.push(r)));
}

const jobs = {
  /** open TEAM: loads the client and connects (before a race: the race is between operations, not start-ups). */
  async open(store, team) {
    await store.now();
    await store.getTeam(team);
    return {};
  },
  /** create TEAM N TAG: N tasks, one call each, each with its task.created event. */
  async create(store, team, [n, tag]) {
    const ids = [];
    for (let i = 0; i < Number(n); i++) {
      const t = await store.createTask(team, (id) => ({ task: task(id, `${tag}-${i}`), events: [{ actor: tag, kind: "task.created", data: { id } }] }));
      ids.push(t.id);
    }
    return { ids };
  },
  /** claim TEAM IDS ME: takes free tasks from the queue until none is left. */
  async claim(store, team, [ids, me]) {
    const claimed = [];
    for (;;) {
      const r = await store.editFirst(team, ids.split(","), (t) => {
        if (t.owner || t.status !== "pending") return null;
        t.owner = me;
        t.status = "in_progress";
        return { value: t.id, write: true, events: [{ actor: me, kind: "task.claimed", data: { id: t.id } }] };
      });
      if (!r) break;
      claimed.push(r.value);
    }
    return { claimed };
  },
  /** field TEAM ID FIELD N: N read-modify-writes of one field of one task (others write other fields). */
  async field(store, team, [id, field, n]) {
    for (let i = 0; i < Number(n); i++) {
      await store.editTask(team, id, (t) => {
        t[field] = (typeof t[field] === "number" ? t[field] : 0) + 1;
        return { value: t[field], write: true };
      });
    }
    return {};
  },
  /** link TEAM BLOCKER N TAG: N transactions, each creating a task blocked by BLOCKER (edges on both sides). */
  async link(store, team, [blocker, n, tag]) {
    const ids = [];
    for (let i = 0; i < Number(n); i++) {
      const id = await store.transact(team, async (tx) => {
        const b = await tx.get(blocker);
        const t = await tx.create((id) => ({ ...task(id, `${tag}-${i}`), blockedBy: [blocker] }));
        b.blocks.push(t.id);
        tx.put(b);
        tx.event({ actor: tag, kind: "task.linked", data: { id: t.id, blocker } });
        return t.id;
      });
      ids.push(id);
    }
    return { ids };
  },
  /** send TEAM TO N TAG: N messages, one delivery each, with a message.sent event. */
  async send(store, team, [to, n, tag]) {
    const ids = [];
    for (let i = 0; i < Number(n); i++) {
      const id = `${tag}-${i}`;
      await store.deliver(team, [{ id, from: tag, to, content: `hello ${i}`, summary: `m${i}`, timestamp: now(), read: false }], [{ actor: tag, kind: "message.sent", data: { id } }]);
      ids.push(id);
    }
    return { ids };
  },
  /** read TEAM AGENT: marks the inbox read until the "ctl/stop" document says the senders are done and nothing is left. */
  async read(store, team, [agent]) {
    const got = [];
    for (;;) {
      const stop = await store.getDoc(team, "ctl", "stop");
      const marked = await store.markRead(team, agent, "all", `reader-${process.pid}`);
      for (const m of marked) got.push(m.id);
      if (stop && !marked.length && (await store.unreadCount(team, agent)) === 0) break;
      if (!marked.length) await sleep(5);
    }
    return { got };
  },
  /** events TEAM N TAG: N appends of one event each. */
  async events(store, team, [n, tag]) {
    for (let i = 0; i < Number(n); i++) await store.appendEvents(team, [{ actor: tag, kind: "test.tick", data: { tag, i } }]);
    return {};
  },
  /** locked-count TEAM NAME FILE N: N increments of a counter file, each read-sleep-write under the named lock. */
  async "locked-count"(store, team, [name, file, n]) {
    for (let i = 0; i < Number(n); i++) {
      await store.withLock(team, name, async () => {
        const v = Number(fs.readFileSync(file, "utf8") || "0");
        await sleep(2);
        fs.writeFileSync(file, String(v + 1));
      });
    }
    return {};
  },
  /** hold TEAM NAME: takes the lock and keeps it until killed. */
  async hold(store, team, [name]) {
    await store.withLock(team, name, async () => {
      say("locked");
      // Keeps the process alive (the JSON store's refresh timer does not).
      await new Promise(() => setInterval(() => {}, 1 << 30));
    });
  },
  /** lock-once TEAM NAME: takes the lock once; says how long it waited, or the error. */
  async "lock-once"(store, team, [name]) {
    const t0 = Date.now();
    try {
      await store.withLock(team, name, async () => {});
      return { ok: true, waited: Date.now() - t0 };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message, waited: Date.now() - t0 };
    }
  },
  /** change TEAM: for each stdin line "events" or "inbox AGENT", makes that change and prints when it was acknowledged. */
  async change(store, team, _args, next) {
    for (;;) {
      const line = (await next()).trim();
      if (line === "quit" || !line) return { quit: true };
      const [what, agent] = line.split(" ");
      if (what === "events") await store.appendEvents(team, [{ actor: "changer", kind: "test.change", data: {} }]);
      else await store.deliver(team, [{ id: `c-${Date.now()}-${Math.random().toString(36).slice(2)}`, from: "changer", to: agent, content: "x", summary: "x", timestamp: now(), read: false }]);
      say("result " + JSON.stringify({ acked: Date.now() }));
    }
  },
  /** clock TEAM AGENT: this host's Date.now(), the store's now() and a heartbeat stamped by the store. */
  async clock(store, team, [agent]) {
    const p = await store.putPresence(team, agent, { state: "idle" });
    return { local: Date.now(), storeNow: await store.now(), heartbeatAt: p.heartbeatAt };
  },
  /** get-task TEAM ID */
  async "get-task"(store, team, [id]) {
    return { task: (await store.getTask(team, id)) ?? null };
  },
};

async function run(store, [mode, team, ...args], next) {
  const job = jobs[mode];
  if (!job) throw new Error(`store-worker: unknown job ${mode}`);
  const t0 = Date.now();
  const r = await job(store, team, args, next);
  return { ...r, ms: Date.now() - t0 };
}

const argv = process.argv.slice(2);
if (argv[0] === "serve") {
  // One store per environment (a test's data dir or database), kept open across jobs.
  const stores = new Map();
  const storeFor = (env) => {
    const key = JSON.stringify(env);
    if (!stores.has(key)) stores.set(key, openStore({ env: { ...process.env, ...env } }));
    return stores.get(key);
  };
  const next = lineReader();
  say("ready");
  for (;;) {
    const line = await next();
    if (line === "quit") break;
    const { env, job } = JSON.parse(line);
    try {
      say("result " + JSON.stringify(await run(storeFor(env), job)));
    } catch (e) {
      say("result " + JSON.stringify({ error: { code: e.code, message: e.message } }));
    }
  }
  for (const s of stores.values()) await s.close();
} else {
  const wait = argv.includes("--wait");
  const job = argv.filter((a) => a !== "--wait");
  const store = openStore({ env: process.env });
  await jobs.open(store, job[1]);
  const next = lineReader();
  say("ready");
  if (wait) await next();
  say("result " + JSON.stringify(await run(store, job, next)));
  await store.close();
}
process.exit(0);
