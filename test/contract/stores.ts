/**
 * The stores the contract suite runs against, each fresh per test: the JSON
 * store in a temp data dir, the PostgreSQL store on a new database of the
 * test cluster (test/helpers/pg.ts). A test states a promise of
 * src/store/types.ts once and runs it on both.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { JsonStore } from "../../src/store/json/index.js";
import { PgStore, migrate } from "../../src/store/pg/index.js";
import { MIGRATIONS } from "../../src/store/pg/schema.js";
import type { TeamStore } from "../../src/store/types.js";
import type { Message, Task, TeamConfig } from "../../src/schemas.js";
import { tempDir } from "../helpers/fixtures.js";
import { startWorker, type Worker } from "../helpers/procs.js";
import { freshDb, type Template } from "../helpers/pg.js";

export const KINDS = ["json", "postgres"] as const;
export type Kind = (typeof KINDS)[number];

export interface Subject {
  kind: Kind;
  store: TeamStore;
  /** Another store on the same data, as a second process opens it. */
  open(opts?: { now?: () => number }): TeamStore;
  /** What a worker process needs to open this store (from childEnv()). */
  env: NodeJS.ProcessEnv;
  /** Replaces fields of a team's stored config behind the store's back (a hand edit; `undefined` removes a field). */
  editStoredConfig(team: string, patch: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Databases with the schema already migrated (named after the migrations: a changed one makes a new template). */
const TEMPLATE: Template = {
  name: `clanker_tmpl_${createHash("sha256").update(JSON.stringify(MIGRATIONS)).digest("hex").slice(0, 12)}`,
  init: async (url) => { await migrate(url); },
};

type Db = Awaited<ReturnType<typeof freshDb>>;
let fileDb: Promise<Db> | undefined;

/**
 * An empty database: one per test file (a copy of the template), emptied
 * between tests (every row hangs off its team: TRUNCATE … CASCADE), which
 * is much cheaper than a CREATE DATABASE per test on a busy 2-core machine.
 */
async function emptyDb(): Promise<Db> {
  if (!fileDb) {
    fileDb = freshDb("contract", TEMPLATE);
    fileDb.catch(() => { fileDb = undefined; });
    return fileDb;
  }
  const db = await fileDb;
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query("TRUNCATE clanker_teams.teams CASCADE");
  } finally {
    await c.end();
  }
  return db;
}

/** Drops the test file's database (call in afterAll). */
export async function settle(): Promise<void> {
  const db = fileDb;
  fileDb = undefined;
  if (db) await (await db).drop();
}

/** A fresh, empty store of `kind`. */
export async function subject(kind: Kind, opts: { now?: () => number } = {}): Promise<Subject> {
  const opened: TeamStore[] = [];
  const track = <T extends TeamStore>(s: T): T => { opened.push(s); return s; };
  if (kind === "json") {
    const dir = tempDir("clanker-contract-");
    const store = track(new JsonStore({ dataDir: dir, now: opts.now }));
    return {
      kind, store,
      open: (o = {}) => track(new JsonStore({ dataDir: dir, now: o.now })),
      env: { ...store.childEnv(), CLANKER_TEAMS_DB: "" },
      async editStoredConfig(team, patch) {
        const file = path.join(dir, "teams", team, "config.json");
        const cfg = { ...JSON.parse(fs.readFileSync(file, "utf8")), ...patch };
        fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
      },
      async close() { for (const s of opened) await s.close(); },
    };
  }
  const db = await emptyDb();
  const store = track(new PgStore({ url: db.url, now: opts.now }));
  return {
    kind, store,
    open: (o = {}) => track(new PgStore({ url: db.url, now: o.now })),
    env: { ...store.childEnv(), CLANKER_TEAMS_DIR: tempDir("clanker-contract-unused-") },
    async editStoredConfig(team, patch) {
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const cur = (await c.query("SELECT config FROM clanker_teams.teams WHERE name = $1", [team])).rows[0].config;
        await c.query("UPDATE clanker_teams.teams SET config = $2::jsonb WHERE name = $1", [team, JSON.stringify({ ...cur, ...patch })]);
      } finally {
        await c.end();
      }
    },
    async close() {
      for (const s of opened) await s.close();
    },
  };
}

const T0 = "2026-01-01T00:00:00.000Z";

/** A team config with a lead. */
export function config(name: string): TeamConfig {
  return { name, description: "contract", createdAt: T0, leadName: "team-lead", members: [{ name: "team-lead", agentId: "lead-1", role: "lead", joinedAt: T0 }] };
}

/** A pending task. */
export function newTask(id: string, subject: string, extra: Partial<Task> = {}): Task {
  return { id, subject, description: `about ${subject}`, status: "pending", blocks: [], blockedBy: [], createdAt: T0, updatedAt: T0, ...extra };
}

/** An unread message. */
export function message(id: string, to: string, from = "alice"): Message {
  return { id, from, to, content: `content of ${id}`, summary: `summary ${id}`, timestamp: T0, read: false };
}

/** The error a promise rejects with (fails if it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected the call to fail, it succeeded");
}

/**
 * Worker processes (test/procs/store-worker.mjs serve) started once per test
 * file and given jobs on any store: the races are between their operations,
 * started together, not between process start-ups.
 */
export class WorkerPool {
  private constructor(readonly workers: Worker[]) {}

  static async start(n: number): Promise<WorkerPool> {
    const ws = Array.from({ length: n }, () => startWorker(tempDir("clanker-pool-"), ["serve"], { CLANKER_TEAMS_DB: "" }, "store-worker.mjs"));
    await Promise.all(ws.map((w) => w.waitFor(/^ready$/, 120_000)));
    return new WorkerPool(ws);
  }

  private results(w: Worker): string[] {
    return w.lines.filter((l) => l.startsWith("result "));
  }

  /** Runs `job` on worker `i` against subject `s`; resolves with its result. */
  async run(i: number, s: Subject, job: string[]): Promise<any> {
    const w = this.workers[i];
    const n = this.results(w).length;
    const env = { CLANKER_TEAMS_DB: s.env.CLANKER_TEAMS_DB ?? "", CLANKER_TEAMS_DIR: s.env.CLANKER_TEAMS_DIR ?? "" };
    w.child.stdin!.write(JSON.stringify({ env, job }) + "\n");
    const end = Date.now() + 120_000;
    while (this.results(w).length <= n) {
      if (w.child.exitCode !== null || w.child.signalCode !== null) throw new Error(`worker ${i} died: ${w.stderr.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`worker ${i}: no result for ${job.join(" ")} within 120 s; stderr: ${w.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = JSON.parse(this.results(w)[n].slice(7));
    if (r.error) throw new Error(`worker ${i}: ${job.join(" ")}: ${r.error.code ?? ""} ${r.error.message}`);
    return r;
  }

  /**
   * Starts jobs[i] on worker i, all at once (each worker first opens the
   * store and the team, so that the race is between the operations); returns
   * each job's result promise.
   */
  async start(s: Subject, jobs: string[][]): Promise<Promise<any>[]> {
    await Promise.all(jobs.map((job, i) => this.run(i, s, ["open", job[1]])));
    return jobs.map((job, i) => this.run(i, s, job));
  }

  /** start() and wait for every result. */
  async race(s: Subject, jobs: string[][]): Promise<any[]> {
    return Promise.all(await this.start(s, jobs));
  }

  async close(): Promise<void> {
    for (const w of this.workers) if (w.child.exitCode === null) w.child.stdin!.write("quit\n");
    await Promise.all(this.workers.map((w) => w.done));
  }
}

/** Starts test/procs/store-worker.mjs on a subject's store. */
export function storeWorker(s: Subject, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Worker {
  return startWorker(String(s.env.CLANKER_TEAMS_DIR), args, { ...s.env, ...extraEnv }, "store-worker.mjs");
}

/** The parsed "result" line of a finished worker. */
export function resultOf<T = any>(w: Worker): T {
  const line = w.lines.find((l) => l.startsWith("result "));
  if (!line) throw new Error(`worker printed no result; stderr: ${w.stderr.slice(-2000)}`);
  return JSON.parse(line.slice(7)) as T;
}
