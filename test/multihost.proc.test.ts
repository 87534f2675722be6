/**
 * Two hosts on one PostgreSQL (issue #10; slow: real processes). Host A is
 * the lead (this test process, CLANKER_TEAMS_HOST=host-a) and its teammates
 * started as their own processes; it talks to the database directly. Host B's
 * teammates are separate processes with their own HOME and data dir and
 * CLANKER_TEAMS_HOST=host-b: the only thing they share with host A is the
 * database, reached through a TCP proxy in this file (127.0.0.1) that the test
 * can cut (every connection reset, new ones refused) and restore.
 *
 * Host B cut off, or all its processes SIGKILLed, mid-work while holding
 * claims: the lead's sweep (recoverAbandoned) puts the tasks back to pending
 * once the lease has passed (not before: another host's pid cannot be
 * checked), the lead is told, a host-A teammate claims them at epoch 2; the
 * cut host's late task_update is refused naming the new owner; nothing host B
 * had acknowledged is lost. A silent cut (the proxy holds the bytes, nothing is
 * reset) in the middle of host B's transaction on its task: the server ends
 * that transaction after half the lease, so its row lock does not hold the
 * recovery up (it did for 60 s before).
 */
import net from "node:net";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanupTemp, cli, tempDir, walk } from "./helpers/fixtures.js";
import { settleStores, storeWorld, teamOn, type StoreWorld } from "./helpers/store-world.js";
import { startWorker, type Worker } from "./helpers/procs.js";
import { recoverAbandoned, writePresence } from "../src/domain/presence.js";
import { readInbox } from "../src/domain/messages.js";
import { getTask, listTasks } from "../src/domain/tasks.js";
import { readEvents } from "../src/domain/events.js";
import { checkTeammate } from "../src/agents/teammates.js";
import type { Ctx } from "../src/context.js";

const LEASE = 2000;
/** How often the lead sweeps in these tests. */
const SWEEP = 250;

/** A TCP proxy on 127.0.0.1 in front of `target`: the only way host B reaches the database. */
class Proxy {
  private server = net.createServer((c) => this.accept(c));
  private sockets = new Set<net.Socket>();
  port = 0;
  /** Connections accepted while up. */
  accepted = 0;
  /** Bytes carried from the clients to the database. */
  bytesUp = 0;

  constructor(private target: { host: string; port: number }) {}

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => { this.server.off("error", reject); resolve(); });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(c: net.Socket): void {
    this.accepted++;
    const u = net.connect(this.target.port, this.target.host);
    for (const s of [c, u]) {
      this.sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => { this.sockets.delete(s); c.destroy(); u.destroy(); });
    }
    c.on("data", (b: Buffer) => {
      this.bytesUp += b.length;
      if (!this.frozen && this.freezeOn && b.includes(this.freezeOn)) { this.frozen = true; this.freezeOn = undefined; this.froze?.(); }
      this.forward(u, b);
    });
    u.on("data", (b: Buffer) => this.forward(c, b));
  }

  /** Frozen: bytes in either direction are held (a link that silently drops packets; nothing is reset). */
  private frozen = false;
  private held: Array<() => void> = [];
  private freezeOn?: Buffer;
  private froze?: () => void;
  private forward(to: net.Socket, b: Buffer): void {
    if (this.frozen) this.held.push(() => { if (!to.destroyed) to.write(b); });
    else if (!to.destroyed) to.write(b);
  }

  /** Freezes the link as soon as a client sends bytes containing `marker` (those bytes are held too); resolves then. */
  freezeWhen(marker: string): Promise<void> {
    this.freezeOn = Buffer.from(marker);
    return new Promise((r) => (this.froze = r));
  }

  /** The frozen link carries again: what was held is delivered, in order. */
  thaw(): void {
    this.frozen = false;
    for (const f of this.held.splice(0)) f();
  }

  /** The link goes down: open connections are reset, new ones refused (nothing listens on the port). */
  async cut(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of [...this.sockets]) s.resetAndDestroy();
    await closed;
  }

  /** The link is back, on the same port. */
  async restore(): Promise<void> {
    this.server = net.createServer((c) => this.accept(c));
    await this.start(this.port);
  }

  async close(): Promise<void> {
    for (const s of [...this.sockets]) s.destroy();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }
}

afterAll(async () => {
  await settleStores();
  cleanupTemp();
});

let w: StoreWorld;
let proxy: Proxy;
let workers: Worker[] = [];
/** The database URL host A uses (direct), and host B's (through the proxy). */
let direct: string;
let viaProxy: string;
let lead: Ctx;
const hostA = { dir: "", home: "" };
const hostB = { dir: "", home: "" };

beforeEach(async () => {
  w = await storeWorld("postgres");
  direct = String(w.workerEnv.CLANKER_TEAMS_DB);
  const u = new URL(direct);
  proxy = new Proxy({ host: u.hostname, port: Number(u.port || 5432) });
  await proxy.start();
  u.hostname = "127.0.0.1";
  u.port = String(proxy.port);
  viaProxy = u.toString();
  for (const h of [hostA, hostB]) { h.dir = tempDir("clanker-host-data-"); h.home = tempDir("clanker-host-home-"); }
  lead = w.as("team-lead", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: "host-a", CLANKER_TEAMS_LEASE_MS: String(LEASE) } });
  workers = [];
});

afterEach(async () => {
  for (const wk of workers) wk.kill();
  await Promise.all(workers.map((wk) => wk.done));
  await proxy.close();
  await w.close();
});

/** A teammate process on host A (direct to the database). */
function onHostA(name: string): Worker {
  const wk = startWorker(hostA.dir, ["lease", "t", name], { HOME: hostA.home, CLANKER_TEAMS_DB: direct, CLANKER_TEAMS_HOST: "host-a", CLANKER_TEAMS_LEASE_MS: String(LEASE) });
  workers.push(wk);
  return wk;
}

/** A teammate process on host B: its own HOME and data dir, the database only through the proxy. */
function onHostB(name: string): Worker {
  const wk = startWorker(hostB.dir, ["lease", "t", name], {
    HOME: hostB.home, CLANKER_TEAMS_DB: viaProxy, CLANKER_TEAMS_HOST: "host-b", CLANKER_TEAMS_LEASE_MS: String(LEASE),
    // Long enough to wait out the cut: a call made while it is down goes through once it is back.
    CLANKER_TEAMS_DB_RETRY_MS: "30000",
  });
  workers.push(wk);
  return wk;
}

/** Sends a command line to a lease worker and waits for its answer (the n-th line matching `re`). */
async function ask(wk: Worker, line: string, re: RegExp, ms = 30_000): Promise<string> {
  const before = wk.lines.filter((l) => re.test(l)).length;
  wk.child.stdin!.write(line + "\n");
  const end = Date.now() + ms;
  for (;;) {
    const hits = wk.lines.filter((l) => re.test(l));
    if (hits.length > before) return hits[before];
    if (wk.child.exitCode !== null || wk.child.signalCode) throw new Error(`worker exited before answering ${line}: ${wk.stderr.slice(-2000)}`);
    if (Date.now() > end) throw new Error(`no answer to ${line} within ${ms} ms; lines: ${wk.lines.join(" | ")}; stderr: ${wk.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The lead sweeping every SWEEP ms until `owners` all had their tasks recovered; returns when (ms since `from`) and what. */
async function sweepUntil(owners: string[], from: number, ms = 20_000): Promise<{ after: number; rec: { owner: string; reason: string; tasks: { id: string }[] }[] }> {
  const rec: { owner: string; reason: string; tasks: { id: string }[] }[] = [];
  const end = Date.now() + ms;
  while (!owners.every((o) => rec.some((r) => r.owner === o))) {
    if (Date.now() > end) throw new Error(`the lead's sweep did not recover ${owners.join(", ")} within ${ms} ms (got ${JSON.stringify(rec)})`);
    rec.push(...(await recoverAbandoned(lead, "t")));
    await new Promise((r) => setTimeout(r, SWEEP));
  }
  return { after: Date.now() - from, rec };
}

const ids = (wk: Worker, verb: string) => wk.lines.filter((l) => l.startsWith(verb + " ")).map((l) => l.split(" ")[1]);

describe("a team across two hosts on PostgreSQL", () => {
  it("host B is cut off mid-work: its claim is pending again within the lease, the lead is told, host A's qa takes it at epoch 2; back online, host B's late updates are refused naming qa; nothing it acknowledged is lost", async () => {
    await teamOn(w, "t", ["dev", "qa"]);
    await (await import("../src/domain/tasks.js")).createTask(lead, "t", { subject: "long job", description: "" });
    await writePresence(lead, "t", "team-lead", { state: "busy" });

    const dev = onHostB("dev");
    expect(await dev.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 1");
    // Work host B has acknowledged before the cut.
    const sentBefore = [await ask(dev, "send team-lead halfway through #1", /^sent |^refused /), await ask(dev, "send team-lead found a bug in the parser", /^sent |^refused /)];
    expect(sentBefore.every((l) => l.startsWith("sent "))).toBe(true);
    expect(await ask(dev, "create fix the parser bug", /^created |^refused /)).toMatch(/^created 2 fix the parser bug$/);
    expect(await ask(dev, "progress 1 parsing the input", /^noted |^refused /)).toBe("noted 1 parsing the input");
    expect(proxy.accepted).toBeGreaterThan(0); // host B really goes through the proxy

    // Alive: the lead sees it on host-b, keeps its claim.
    expect(await recoverAbandoned(lead, "t")).toEqual([]);
    const seen = await checkTeammate(lead, "t", "dev");
    expect(seen).toMatchObject({ running: true, host: "host-b", processAlive: null, currentTask: "1" });
    expect(seen.detail).toMatch(/^heartbeat on host-b \d+ s ago$/);
    const st = await cli(["status", "t"], { dir: hostA.dir, env: { HOME: hostA.home, CLANKER_TEAMS_DB: direct, CLANKER_TEAMS_HOST: "host-a" } });
    expect(st.stderr).toBe("");
    expect(st.stdout).toMatch(/HOST/);
    expect(st.stdout).toMatch(/^\s*dev\s.*#1.*host-b\s*$/m);
    expect(st.stdout).toMatch(/^\s*team-lead\s.*host-a\s*$/m);

    // The link goes down.
    await proxy.cut();
    const cutAt = Date.now();
    const acceptedAtCut = proxy.accepted;
    dev.child.stdin!.write("send team-lead sent while cut off\n"); // retried until the link is back
    const { after, rec } = await sweepUntil(["dev"], cutAt);
    // Not before the lease (the last heartbeat was at most ~0.3 s before the cut), and soon after it.
    expect(after).toBeGreaterThanOrEqual(LEASE - 500);
    expect(after).toBeLessThan(LEASE + 5000); // the lease, a sweep, and slack for a busy 2-core machine
    expect(rec).toHaveLength(1);
    expect(rec[0].tasks.map((t) => t.id)).toEqual(["1"]);
    expect(rec[0].reason).toMatch(/^dev is dead \(no heartbeat on host-b for \d+ s\)$/);
    expect(await getTask(lead, "t", "1")).toMatchObject({ status: "pending", epoch: 1, fenced: [{ agent: "dev" }] });
    expect((await getTask(lead, "t", "1")).owner).toBeUndefined();
    // The lead is told: a message in its inbox and the event.
    const told = (await readInbox(lead, "t", { unread_only: false })).messages.filter((m) => m.kind === "tasks_recovered");
    expect(told).toHaveLength(1);
    expect(told[0].content).toMatch(/^Tasks #1 "long job" of dev are pending again \(owner cleared\): dev is dead \(no heartbeat on host-b for \d+ s\)/);
    expect((await readEvents(lead, "t")).filter((e) => e.kind === "task.recovered").map((e) => e.data.owner)).toEqual(["dev"]);
    expect(await checkTeammate(lead, "t", "dev")).toMatchObject({ running: false, state: "dead", host: "host-b" });

    // A teammate on host A takes it over.
    const qa = onHostA("qa");
    expect(await qa.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 2");
    expect(proxy.accepted).toBe(acceptedAtCut); // host B got nowhere while cut
    expect(dev.lines.some((l) => l.includes("sent while cut off"))).toBe(false);

    // The link is back: what host B sent during the cut goes through once; its late writes to #1 are fenced.
    await proxy.restore();
    const during = await dev.waitFor(/^sent \S+ sent while cut off$|^refused /, 40_000);
    expect(during).toMatch(/^sent \S+ sent while cut off$/);
    expect(proxy.accepted).toBeGreaterThan(acceptedAtCut);
    const refusal = /^refused FORBIDDEN task 1: your claim on it was taken away at .* \(dev is dead \(no heartbeat on host-b for \d+ s\)\); it is now owned by qa\./;
    expect(await ask(dev, "update 1 completed", /^ok |^refused /)).toMatch(refusal);
    expect(await ask(dev, "progress 1 almost done", /^noted |^refused /)).toMatch(refusal);
    expect(await getTask(lead, "t", "1")).toMatchObject({ owner: "qa", status: "in_progress", epoch: 2, activeForm: "parsing the input" });
    // qa's own update goes through.
    expect(await ask(qa, "update 1 completed", /^ok |^refused /)).toBe("ok completed");

    // Nothing host B acknowledged was lost, nothing doubled.
    const inbox = (await readInbox(lead, "t", { unread_only: false })).messages.filter((m) => m.from === "dev");
    expect(inbox.map((m) => m.id).sort()).toEqual(ids(dev, "sent").sort());
    expect(inbox.map((m) => m.content)).toEqual(["halfway through #1", "found a bug in the parser", "sent while cut off"]);
    expect((await listTasks(lead, "t")).map((t) => [t.id, t.subject])).toEqual([["1", "long job"], ["2", "fix the parser bug"]]);
    // Host B's own data dir stayed empty: everything went to the database.
    expect(walk(hostB.dir).filter((e) => !e.dir)).toEqual([]);
  }, 120_000);

  it("host B's processes are all SIGKILLed mid-work: their claims are pending again within the lease (not before: another host's pid is not checked), the lead is told, host A's qa and qa2 take them at epoch 2, every acknowledged message is there", async () => {
    await teamOn(w, "t", ["dev", "dev2", "qa", "qa2"]);
    const { createTask } = await import("../src/domain/tasks.js");
    await createTask(lead, "t", { subject: "job one", description: "" });
    await createTask(lead, "t", { subject: "job two", description: "" });

    const dev = onHostB("dev");
    expect(await dev.waitFor(/^claimed|^none/, 60_000)).toMatch(/^claimed [12] 1$/);
    const dev2 = onHostB("dev2");
    expect(await dev2.waitFor(/^claimed|^none/, 60_000)).toMatch(/^claimed [12] 1$/);
    // Both are busy sending when the host dies: 40 messages queued each, killed after a few are acknowledged.
    for (const [wk, name] of [[dev, "dev"], [dev2, "dev2"]] as const) {
      wk.child.stdin!.write(Array.from({ length: 40 }, (_, i) => `send team-lead ${name} #${i}\n`).join(""));
    }
    await dev.waitFor(/^sent \S+ dev #4$/, 30_000);
    await dev2.waitFor(/^sent \S+ dev2 #4$/, 30_000);
    for (const wk of [dev, dev2]) wk.child.kill("SIGKILL");
    const killedAt = Date.now();
    expect((await Promise.all([dev.done, dev2.done])).map((r) => r.signal)).toEqual(["SIGKILL", "SIGKILL"]);
    const acked = { dev: ids(dev, "sent"), dev2: ids(dev2, "sent") };
    expect(acked.dev.length).toBeLessThan(40); // killed mid-work

    const { after, rec } = await sweepUntil(["dev", "dev2"], killedAt);
    expect(after).toBeGreaterThanOrEqual(LEASE - 500);
    expect(after).toBeLessThan(LEASE + 5000); // the lease, a sweep, and slack for a busy 2-core machine
    expect(rec.flatMap((r) => r.tasks.map((t) => t.id)).sort()).toEqual(["1", "2"]);
    for (const r of rec) expect(r.reason).toMatch(new RegExp(`^${r.owner} is dead \\(no heartbeat on host-b for \\d+ s\\)$`));
    for (const id of ["1", "2"]) expect(await getTask(lead, "t", id)).toMatchObject({ status: "pending", epoch: 1 });
    const told = (await readInbox(lead, "t", { unread_only: false })).messages.filter((m) => m.kind === "tasks_recovered");
    expect(told.map((m) => m.content.match(/ of (dev2?) are pending again/)?.[1]).sort()).toEqual(["dev", "dev2"]);
    expect((await readEvents(lead, "t")).filter((e) => e.kind === "task.recovered").map((e) => e.data.owner).sort()).toEqual(["dev", "dev2"]);
    for (const name of ["dev", "dev2"]) expect(await checkTeammate(lead, "t", name)).toMatchObject({ running: false, state: "dead", host: "host-b" });

    const qa = onHostA("qa");
    const qa2 = onHostA("qa2");
    const took = [await qa.waitFor(/^claimed|^none/, 60_000), await qa2.waitFor(/^claimed|^none/, 60_000)];
    expect(took.map((l) => l.split(" ")[2])).toEqual(["2", "2"]);
    expect(took.map((l) => l.split(" ")[1]).sort()).toEqual(["1", "2"]);
    expect((await listTasks(lead, "t")).map((t) => [t.owner, t.status]).sort()).toEqual([["qa", "in_progress"], ["qa2", "in_progress"]]);

    // Each sender's messages are a gapless prefix of what it was told to send, holding every acknowledged one
    // (at most one more: committed, killed before it could say so).
    const inbox = (await readInbox(lead, "t", { unread_only: false })).messages;
    for (const name of ["dev", "dev2"] as const) {
      const mine = inbox.filter((m) => m.from === name);
      expect(mine.map((m) => m.content)).toEqual(Array.from({ length: mine.length }, (_, i) => `${name} #${i}`));
      expect(mine.length - acked[name].length).toBeGreaterThanOrEqual(0);
      expect(mine.length - acked[name].length).toBeLessThanOrEqual(1);
      const have = new Set(mine.map((m) => m.id));
      for (const id of acked[name]) expect(have.has(id), `${name}'s acknowledged message ${id}`).toBe(true);
    }
  }, 120_000);
  it("host B drops off the network silently in the middle of a transaction on its claimed task (no reset, the server keeps the row lock): its row lock does not hold the recovery past the lease, and the stale transaction never commits over the new owner", async () => {
    await teamOn(w, "t", ["dev", "qa"]);
    await (await import("../src/domain/tasks.js")).createTask(lead, "t", { subject: "long job", description: "" });
    const dev = onHostB("dev");
    expect(await dev.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 1");
    // The link freezes when host B's update of #1 is on the wire: its BEGIN and SELECT … FOR UPDATE reached the server, the rest is held.
    const frozen = proxy.freezeWhen("step two");
    dev.child.stdin!.write("progress 1 step two\n");
    await frozen;
    const cutAt = Date.now();
    const { after, rec } = await sweepUntil(["dev"], cutAt);
    // The server ends host B's open transaction after half the lease (it would hold the row lock for 60 s before):
    // the sweep's wait for that lock does not push the recovery past the lease.
    expect(after).toBeGreaterThanOrEqual(LEASE - 500);
    expect(after).toBeLessThan(LEASE + 5000);
    expect(rec[0].tasks.map((t) => t.id)).toEqual(["1"]);
    const qa = onHostA("qa");
    expect(await qa.waitFor(/^claimed|^none/, 60_000)).toBe("claimed 1 2");
    proxy.thaw();
    // Its session was ended by the server: the update runs again from the start, and is fenced.
    expect(await dev.waitFor(/^noted |^refused /, 60_000)).toMatch(/^refused FORBIDDEN task 1: your claim on it was taken away at .* \(dev is dead \(no heartbeat on host-b for \d+ s\)\); it is now owned by qa\./);
    expect(await getTask(lead, "t", "1")).toMatchObject({ owner: "qa", epoch: 2 });
    expect((await getTask(lead, "t", "1")).activeForm).not.toBe("step two");
  }, 120_000);
});
