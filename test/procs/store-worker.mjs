/**
 * A worker process for the store contract tests (test/contract/): opens the
 * store its environment selects (CLANKER_TEAMS_DB, else CLANKER_TEAMS_DIR)
 * from the compiled dist/, like a teammate on another host would, and does one
 * job. It uses only the store layer, so it runs whatever state the domain is in.
 *
 * Protocol (as test/procs/common.mjs): prints "ready" once loaded; with --wait
 * it then waits for a line on stdin, so that many workers start together.
 * Results are one line: "result <json>".
 */
import fs from "node:fs";

const dist = new URL("../../dist/src/", import.meta.url);
const { openStore } = await import(new URL("store/open.js", dist));

const raw = process.argv.slice(2);
const wait = raw.includes("--wait");
const [mode, team, ...args] = raw.filter((a) => a !== "--wait");
const say = (line) => process.stdout.write(line + "\n");
const result = (v) => say("result " + JSON.stringify(v));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const task = (id, subject) => ({ id, subject, description: "", status: "pending", blocks: [], blockedBy: [], createdAt: now(), updatedAt: now() });

const store = openStore({ env: process.env });
// Load the client and open the connection before the start signal: the race is between operations, not start-ups.
await store.now();
if (team) await store.getTeam(team);

say("ready");
if (wait) await new Promise((r) => process.stdin.once("data", r));

const stdinLines = () => {
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
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiting.push(r)));
};

switch (mode) {
  case "create": {
    // create TEAM N TAG: N tasks, one call each, each with its task.created event.
    const [n, tag] = [Number(args[0]), args[1]];
    const ids = [];
    for (let i = 0; i < n; i++) {
      const t = await store.createTask(team, (id) => ({ task: task(id, `${tag}-${i}`), events: [{ actor: tag, kind: "task.created", data: { id } }] }));
      ids.push(t.id);
    }
    result({ ids });
    break;
  }
  case "claim": {
    // claim TEAM IDS ME: takes free tasks from the queue until none is left.
    const [ids, me] = [args[0].split(","), args[1]];
    const claimed = [];
    for (;;) {
      const r = await store.editFirst(team, ids, (t) => {
        if (t.owner || t.status !== "pending") return null;
        t.owner = me;
        t.status = "in_progress";
        return { value: t.id, write: true, events: [{ actor: me, kind: "task.claimed", data: { id: t.id } }] };
      });
      if (!r) break;
      claimed.push(r.value);
    }
    result({ claimed });
    break;
  }
  case "field": {
    // field TEAM ID FIELD N: N read-modify-writes of one field of one task (others write other fields).
    const [id, field, n] = [args[0], args[1], Number(args[2])];
    for (let i = 0; i < n; i++) {
      await store.editTask(team, id, (t) => {
        t[field] = (typeof t[field] === "number" ? t[field] : 0) + 1;
        return { value: t[field], write: true };
      });
    }
    result({ done: n });
    break;
  }
  case "send": {
    // send TEAM TO N TAG: N messages, one delivery each, with a message.sent event.
    const [to, n, tag] = [args[0], Number(args[1]), args[2]];
    const ids = [];
    for (let i = 0; i < n; i++) {
      const id = `${tag}-${i}`;
      await store.deliver(team, [{ id, from: tag, to, content: `hello ${i}`, summary: `m${i}`, timestamp: now(), read: false }], [{ actor: tag, kind: "message.sent", data: { id } }]);
      ids.push(id);
    }
    result({ ids });
    break;
  }
  case "read": {
    // read TEAM AGENT: marks the inbox read until the "ctl/stop" document says the senders are done and nothing is left.
    const agent = args[0];
    const got = [];
    for (;;) {
      const stop = await store.getDoc(team, "ctl", "stop");
      const marked = await store.markRead(team, agent, "all", `reader-${process.pid}`);
      for (const m of marked) got.push(m.id);
      if (stop && !marked.length && (await store.unreadCount(team, agent)) === 0) break;
      if (!marked.length) await sleep(5);
    }
    result({ got });
    break;
  }
  case "events": {
    // events TEAM N TAG: N appends of one event each.
    const [n, tag] = [Number(args[0]), args[1]];
    for (let i = 0; i < n; i++) await store.appendEvents(team, [{ actor: tag, kind: "test.tick", data: { tag, i } }]);
    result({ done: n });
    break;
  }
  case "locked-count": {
    // locked-count TEAM NAME FILE N: N increments of a counter file, each read-sleep-write under the named lock.
    const [name, file, n] = [args[0], args[1], Number(args[2])];
    for (let i = 0; i < n; i++) {
      await store.withLock(team, name, async () => {
        const v = Number(fs.readFileSync(file, "utf8") || "0");
        await sleep(2);
        fs.writeFileSync(file, String(v + 1));
      });
    }
    result({ done: n });
    break;
  }
  case "hold": {
    // hold TEAM NAME: takes the lock and keeps it until killed.
    await store.withLock(team, args[0], async () => {
      say("locked");
      await new Promise(() => {});
    });
    break;
  }
  case "lock-once": {
    // lock-once TEAM NAME: takes the lock once; prints how long it waited, or the error.
    const t0 = Date.now();
    try {
      await store.withLock(team, args[0], async () => {});
      result({ ok: true, waited: Date.now() - t0 });
    } catch (e) {
      result({ ok: false, code: e.code, message: e.message, waited: Date.now() - t0 });
    }
    break;
  }
  case "change": {
    // change TEAM: for each stdin line "events" or "inbox AGENT", makes that change and prints when it was acknowledged.
    const next = stdinLines();
    for (;;) {
      const line = (await next()).trim();
      if (line === "quit" || !line) break;
      const [what, agent] = line.split(" ");
      if (what === "events") await store.appendEvents(team, [{ actor: "changer", kind: "test.change", data: {} }]);
      else await store.deliver(team, [{ id: `c-${Date.now()}-${Math.random().toString(36).slice(2)}`, from: "changer", to: agent, content: "x", summary: "x", timestamp: now(), read: false }]);
      result({ acked: Date.now() });
    }
    break;
  }
  case "clock": {
    // clock TEAM AGENT: this host's Date.now(), the store's now() and a heartbeat stamped by the store.
    const p = await store.putPresence(team, args[0], { state: "idle" });
    result({ local: Date.now(), storeNow: await store.now(), heartbeatAt: p.heartbeatAt });
    break;
  }
  case "get-task": {
    result({ task: (await store.getTask(team, args[0])) ?? null });
    break;
  }
  default:
    throw new Error(`store-worker: unknown mode ${mode}`);
}

await store.close();
process.exit(0);
