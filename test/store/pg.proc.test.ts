/**
 * What only the PostgreSQL store promises (the shared promises are in
 * test/contract/): its schema migrates itself once, whoever comes first;
 * doctor names what is wrong with a URL; a row that breaks the schema is named
 * with its field and left in place; nothing acknowledged is lost or doubled
 * when the server restarts under load; watchers survive a dropped listener.
 */
import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { PgStore, doctor, migrate, SCHEMA_VERSION } from "../../src/store/pg/index.js";
import type { Task } from "../../src/schemas.js";
import { cleanupTemp, until } from "../helpers/fixtures.js";
import { clusterUrl, freshDb, privateCluster, restartServer, stopCluster } from "../helpers/pg.js";
import { config, failure, newTask, WorkerPool, type Subject } from "../contract/stores.js";

const dbs: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  cleanupTemp();
});

async function db(label: string) {
  const d = await freshDb(label);
  dbs.push(d);
  return d;
}

async function sql<T = any>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A Subject for the worker pool on a bare URL. */
const on = (url: string): Subject => ({ env: { CLANKER_TEAMS_DB: url, CLANKER_TEAMS_DIR: "" } }) as unknown as Subject;

describe("postgres store: schema", () => {
  it("the first users of an empty database create the schema once, concurrently; migrate() again changes nothing", async () => {
    const { url } = await db("migrate");
    const stores = Array.from({ length: 6 }, () => new PgStore({ url }));
    await Promise.all(stores.map((s, i) => s.createTeam(config(`team${i}`))));
    expect((await stores[0].listTeams()).length).toBe(6);
    const rows = await sql(url, "SELECT version FROM clanker_teams.schema_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(await migrate(url)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
    for (const s of stores) await s.close();
  });

  it("doctor: reachable, server version, schema version and rights, each named", async () => {
    const { url } = await db("doctor");
    const fresh = await doctor(url);
    expect(fresh.findings.find((f) => f.check === "reachable")!.ok).toBe(true);
    expect(fresh.findings.find((f) => f.check === "version")!.detail).toMatch(/^PostgreSQL \d+/);
    expect(fresh.findings.find((f) => f.check === "schema")).toMatchObject({ ok: false, detail: expect.stringContaining("db migrate") });
    expect(fresh.findings.find((f) => f.check === "rights")!.ok).toBe(true);
    expect(fresh.ok).toBe(false);
    expect(await migrate(url)).toMatchObject({ from: 0, to: SCHEMA_VERSION });
    const ready = await doctor(url);
    expect(ready.ok).toBe(true);
    expect(ready.findings.map((f) => f.check)).toEqual(["reachable", "version", "schema", "rights"]);
    expect(ready.location).not.toContain(new URL(url).password);

    // A user that may log in but not touch the tables.
    const u = new URL(url);
    const role = `clanker_ro_${process.pid}`;
    await sql(url, `CREATE ROLE ${role} LOGIN PASSWORD 'pw-of-ro'`);
    u.username = role;
    u.password = "pw-of-ro";
    const ro = await doctor(u.toString());
    expect(ro.ok).toBe(false);
    expect(ro.findings.find((f) => f.check === "rights")).toMatchObject({ ok: false, detail: expect.stringContaining(role) });
    await sql(url, `DROP OWNED BY ${role}; DROP ROLE ${role}`);

    u.port = "1";
    const down = await doctor(u.toString());
    expect(down.findings).toEqual([{ check: "reachable", ok: false, detail: expect.stringContaining("cannot connect") }]);
  });
});

describe("postgres store: loading", () => {
  it("a process that uses the JSON store never loads the PostgreSQL client", async () => {
    const { execFileSync } = await import("node:child_process");
    const { tempDir } = await import("../helpers/fixtures.js");
    const code = `
      const m = await import(${JSON.stringify(new URL("../../dist/src/store/open.js", import.meta.url).href)});
      const s = m.openStore({ env: { CLANKER_TEAMS_DIR: process.argv[1] } });
      await s.createTeam({ name: "t", createdAt: "2026-01-01T00:00:00.000Z", leadName: "team-lead", members: [] });
      const { createRequire } = await import("node:module");
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ teams: await s.listTeams(), pg: cache.some((k) => k.includes("/node_modules/pg/")) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", code, tempDir()], { env: { ...process.env, CLANKER_TEAMS_DB: "" } }).toString());
    expect(out).toEqual({ teams: ["t"], pg: false });
  });
});

describe("postgres store: rows and values that break the schema", () => {
  it("a stored task that breaks the schema is INVALID_INPUT naming the field and stays; a write that would break it saves nothing", async () => {
    const { url } = await db("invalid");
    const s = new PgStore({ url });
    await s.createTeam(config("t"));
    await s.createTask("t", (id) => ({ task: newTask(id, "a") }));
    await sql(url, `UPDATE clanker_teams.tasks SET data = jsonb_set(data, '{status}', '"bogus"') WHERE team = 't' AND id = 1`);
    for (const call of [() => s.getTask("t", "1"), () => s.listTasks("t"), () => s.editTask("t", "1", () => ({ value: 0, write: true }))]) {
      const e = await failure(call());
      expect(e.code).toBe("INVALID_INPUT");
      expect(e.message).toMatch(/status/);
      expect(e.details?.field).toBe("status");
    }
    expect((await sql(url, "SELECT data->>'status' AS s FROM clanker_teams.tasks"))[0].s).toBe("bogus");
    await sql(url, `UPDATE clanker_teams.tasks SET data = jsonb_set(data, '{status}', '"pending"')`);
    const seqBefore = (await s.readEvents("t")).length;
    const bad = await failure(s.editTask("t", "1", (t) => { (t as { status: string }).status = "done"; return { value: 0, write: true, events: [{ actor: "x", kind: "y", data: {} }] }; }));
    expect(bad).toMatchObject({ code: "INVALID_INPUT", details: { field: "status" } });
    const nul = await failure(s.editTask("t", "1", (t) => { t.description = "a\u0000b"; return { value: 0, write: true }; }));
    expect(nul).toMatchObject({ code: "INVALID_INPUT", details: { field: "description" } });
    expect((await s.getTask("t", "1"))!.status).toBe("pending");
    expect((await s.readEvents("t")).length).toBe(seqBefore);
    await s.close();
  });
});

describe("postgres store: a server that restarts, a listener that drops", () => {
  it("a restart under a storm of sends and creates: every call succeeds, everything acknowledged is there exactly once", async () => {
    const cluster = await privateCluster();
    const pool = await WorkerPool.start(4);
    try {
      await sql(clusterUrl(cluster, "postgres"), "CREATE DATABASE storm");
      const url = clusterUrl(cluster, "storm");
      const s = new PgStore({ url });
      await s.createTeam(config("t"));
      const jobs = await pool.start(on(url), [
        ["send", "t", "lead", "150", "a"],
        ["send", "t", "lead", "150", "b"],
        ["create", "t", "120", "c"],
        ["create", "t", "120", "d"],
      ]);
      await until(async () => (await s.unreadCount("t", "lead")) >= 40, 30_000, 20);
      await restartServer("fast", cluster);
      await until(async () => (await s.unreadCount("t", "lead")) >= 150, 30_000, 20);
      await restartServer("immediate", cluster);
      const [a, b, c, d] = await Promise.all(jobs);
      const sent = [...a.ids, ...b.ids] as string[];
      const inbox = (await s.history("t", "lead", { limit: 1000 })).messages.map((m) => m.id);
      expect(sent.filter((id) => !inbox.includes(id))).toEqual([]); // acknowledged, then lost
      expect(inbox.length).toBe(300); // none twice
      expect([...inbox].sort()).toEqual([...sent].sort());
      const ids = [...c.ids, ...d.ids].map(Number).sort((x, y) => x - y);
      expect(ids).toEqual(Array.from({ length: 240 }, (_, i) => i + 1));
      expect((await s.listTasks("t")).length).toBe(240);
      const evs = await s.readEvents("t");
      expect(evs.map((e) => e.seq)).toEqual(Array.from({ length: evs.length }, (_, i) => i + 1));
      expect(evs.filter((e) => e.kind === "message.sent").length).toBe(300);
      expect(evs.filter((e) => e.kind === "task.created").length).toBe(240);
      await s.close();
    } finally {
      await pool.close();
      stopCluster(cluster);
    }
  }, 120_000);

  it("a watcher whose listening connection is killed is still called for later changes", async () => {
    const { url } = await db("watch");
    const s = new PgStore({ url });
    const other = new PgStore({ url });
    await s.createTeam(config("t"));
    let calls = 0;
    const unwatch = s.watch("t", { inbox: "bob" }, () => calls++);
    await until(async () => (await sql(url, "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")).length > 0, 10_000);
    await other.deliver("t", [{ id: "m1", from: "a", to: "bob", content: "x", summary: "x", timestamp: new Date().toISOString(), read: false }]);
    await until(() => calls > 0, 5000, 5);
    await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()");
    await new Promise((r) => setTimeout(r, 300));
    const before = calls;
    await other.deliver("t", [{ id: "m2", from: "a", to: "bob", content: "x", summary: "x", timestamp: new Date().toISOString(), read: false }]);
    await until(() => calls > before, 5000, 5);
    unwatch();
    await s.close();
    await other.close();
  });

  it("task ids come from the database: a task created in a transaction and one by createTask never share an id", async () => {
    const { url } = await db("ids");
    const a = new PgStore({ url });
    const b = new PgStore({ url });
    await a.createTeam(config("t"));
    const made = await Promise.all([
      ...Array.from({ length: 10 }, () => a.createTask("t", (id) => ({ task: newTask(id, "plain") }))),
      ...Array.from({ length: 5 }, () => b.transact("t", async (tx) => [await tx.create((id) => newTask(id, "tx1")), await tx.create((id) => newTask(id, "tx2"))])),
    ]);
    const ids = made.flat().map((t) => Number((t as Task).id)).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await a.close();
    await b.close();
  });
});
