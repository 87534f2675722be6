/**
 * The PostgreSQL schema, owned by the package: versioned migrations in
 * `clanker_teams.schema_migrations`, applied in order under an advisory lock
 * (concurrent first users do not race), each in its own transaction, so
 * running them again is a no-op. Run on a store's first use and by
 * `clanker-teams db migrate`; `doctor` checks a URL without changing it.
 *
 * Layout: one row per team (its config); a counter row per team (next task
 * id, last event seq: the gapless sequence); tasks with the columns the work
 * queue filters on; messages (pos orders an inbox); events (team, seq);
 * presence (heartbeats stamped by the server); documents. Every row of a team
 * goes when its team row goes (ON DELETE CASCADE), so a re-created team
 * starts empty. Triggers NOTIFY `clanker_teams` at commit when an inbox or
 * the event log changes (store watchers LISTEN).
 */
import type pgTypes from "pg";
import { TeamsError } from "../../errors.js";
import { loadPg, redact, sqlState } from "./conn.js";

export const SCHEMA = "clanker_teams";
/** The NOTIFY channel; payload {"team": …, "topic": "events" | "inbox", "agent"?: …}. */
export const CHANNEL = "clanker_teams";
/** Advisory lock key taken while migrating ("clanker" in ASCII). */
const MIGRATE_LOCK = "27988490466520434";

interface Migration { version: number; name: string; sql: string }

const S = SCHEMA;
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "teams, counters, tasks, messages, events, presence, docs, receipts, notify triggers",
    sql: `
CREATE TABLE ${S}.teams (
  name text PRIMARY KEY,
  config jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE ${S}.counters (
  team text PRIMARY KEY REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  next_task_id bigint NOT NULL DEFAULT 1,
  event_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE ${S}.tasks (
  team text NOT NULL REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  id bigint NOT NULL,
  data jsonb NOT NULL,
  status text NOT NULL,
  owner text,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (team, id)
);
CREATE INDEX tasks_queue ON ${S}.tasks (team, status, id);
CREATE TABLE ${S}.messages (
  pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  team text NOT NULL REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  agent text NOT NULL,
  id text NOT NULL,
  data jsonb NOT NULL,
  read boolean NOT NULL DEFAULT false,
  UNIQUE (team, agent, id)
);
CREATE INDEX messages_inbox ON ${S}.messages (team, agent, pos);
CREATE INDEX messages_unread ON ${S}.messages (team, agent, pos) WHERE NOT read;
CREATE TABLE ${S}.events (
  team text NOT NULL REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  seq bigint NOT NULL,
  time timestamptz NOT NULL,
  actor text NOT NULL,
  kind text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (team, seq)
);
CREATE TABLE ${S}.presence (
  team text NOT NULL REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  agent text NOT NULL,
  data jsonb NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  PRIMARY KEY (team, agent)
);
CREATE TABLE ${S}.docs (
  team text NOT NULL REFERENCES ${S}.teams(name) ON DELETE CASCADE,
  coll text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  PRIMARY KEY (team, coll, key)
);
-- One row per write transaction, committed with it: after a COMMIT whose answer was lost, its writer
-- looks for its receipt (conn.ts). Deleted by the writer's next transaction.
CREATE TABLE ${S}.receipts (
  id text PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION ${S}.notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${CHANNEL}', json_build_object('team', d.team, 'topic', 'events')::text)
    FROM (SELECT DISTINCT team FROM new_rows) d;
  RETURN NULL;
END $$;
CREATE FUNCTION ${S}.notify_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${CHANNEL}', json_build_object('team', d.team, 'topic', 'inbox', 'agent', d.agent)::text)
    FROM (SELECT DISTINCT team, agent FROM new_rows) d;
  RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON ${S}.events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${S}.notify_events();
CREATE TRIGGER messages_notify_insert AFTER INSERT ON ${S}.messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${S}.notify_inbox();
CREATE TRIGGER messages_notify_update AFTER UPDATE ON ${S}.messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${S}.notify_inbox();
`,
  },
];
export const LATEST = MIGRATIONS.at(-1)!.version;

type Queryable = Pick<pgTypes.ClientBase, "query">;

/** The applied schema version (0: none), without locking. */
async function version(c: Queryable): Promise<number> {
  try {
    const r = await c.query(`SELECT coalesce(max(version), 0)::int AS v FROM ${S}.schema_migrations`);
    return r.rows[0].v as number;
  } catch (e) {
    if (sqlState(e) === "42P01" || sqlState(e) === "3F000") return 0; // no table or no schema yet
    throw e;
  }
}

function tooNew(v: number, location: string): TeamsError {
  return new TeamsError("IO", `the database at ${location} has clanker-teams schema version ${v}, newer than this clanker-teams knows (${LATEST}); upgrade clanker-teams on this host.`, { location, version: v });
}

/** Applies the missing migrations on connection `c` (under the advisory lock). */
async function applyLocked(c: pgTypes.ClientBase, location: string): Promise<{ from: number; to: number; applied: number[] }> {
  await c.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK})`);
  try {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const from = await version(c);
    if (from > LATEST) throw tooNew(from, location);
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await c.query("BEGIN");
      try {
        await c.query(m.sql);
        await c.query(`INSERT INTO ${S}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      }
      applied.push(m.version);
    }
    return { from, to: Math.max(from, LATEST), applied };
  } finally {
    await c.query(`SELECT pg_advisory_unlock(${MIGRATE_LOCK})`).catch(() => {});
  }
}

/** Brings the schema up to date before a store's first query (a cheap version check when it is). */
export async function ensureSchema(url: string, pool: pgTypes.Pool): Promise<void> {
  const c = await pool.connect();
  let err: Error | undefined;
  try {
    const v = await version(c);
    if (v > LATEST) throw tooNew(v, redact(url));
    if (v < LATEST) await applyLocked(c, redact(url));
  } catch (e) {
    err = e as Error;
    throw e;
  } finally {
    c.release(err);
  }
}

async function withClient<T>(url: string, fn: (c: pgTypes.Client) => Promise<T>): Promise<T> {
  const pg = await loadPg();
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: "clanker-teams" });
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Creates or upgrades the schema at `url` (idempotent): `clanker-teams db migrate`. */
export async function migrate(url: string): Promise<{ from: number; to: number; applied: number[] }> {
  return withClient(url, (c) => applyLocked(c, redact(url)));
}

/** One finding of `doctor`. */
export interface Finding { check: "reachable" | "version" | "schema" | "rights"; ok: boolean; detail: string }

/** Checks a URL without changing anything: reachable, server version, schema version, rights. */
export async function doctor(url: string): Promise<{ ok: boolean; location: string; findings: Finding[] }> {
  const location = redact(url);
  const findings: Finding[] = [];
  const done = () => ({ ok: findings.every((f) => f.ok), location, findings });
  const pg = await loadPg();
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: "clanker-teams doctor" });
  c.on("error", () => {});
  try {
    await c.connect();
  } catch (e) {
    findings.push({ check: "reachable", ok: false, detail: `cannot connect to ${location}: ${(e as Error).message}` });
    return done();
  }
  try {
    const info = (await c.query("SELECT current_user AS u, current_database() AS d, current_setting('server_version_num')::int AS n, current_setting('server_version') AS v")).rows[0];
    findings.push({ check: "reachable", ok: true, detail: `connected to database "${info.d}" as "${info.u}"` });
    findings.push({ check: "version", ok: info.n >= 120000, detail: info.n >= 120000 ? `PostgreSQL ${info.v}` : `PostgreSQL ${info.v}: clanker-teams needs 12 or newer` });
    const access = (await c.query(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present,
              CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege(current_user, $1, 'USAGE') ELSE false END AS usage`,
      [S],
    )).rows[0] as { present: boolean; usage: boolean };
    if (access.present && !access.usage) {
      findings.push({ check: "schema", ok: false, detail: `the ${S} schema exists but "${info.u}" may not use it, so its version cannot be read` });
      findings.push({ check: "rights", ok: false, detail: `"${info.u}" lacks USAGE on schema ${S}: GRANT USAGE ON SCHEMA ${S} TO ${info.u}, and SELECT, INSERT, UPDATE, DELETE on its tables` });
      return done();
    }
    const v = await version(c).catch((e) => (sqlState(e) === "42501" ? -1 : Promise.reject(e)));
    findings.push({
      check: "schema",
      ok: v === LATEST,
      detail: v === -1 ? `"${info.u}" may not read ${S}.schema_migrations` : v === LATEST ? `schema version ${v} (current)` : v > LATEST ? `schema version ${v} is newer than this clanker-teams (${LATEST}): upgrade clanker-teams` : v === 0 ? `no clanker-teams schema yet: run \`clanker-teams db migrate\` (or let the first use create it)` : `schema version ${v}, ${LATEST} is current: run \`clanker-teams db migrate\``,
    });
    if (v === 0) {
      const r = (await c.query("SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS ok")).rows[0];
      findings.push({ check: "rights", ok: r.ok, detail: r.ok ? `may create the ${S} schema` : `"${info.u}" may not create schemas in "${info.d}": GRANT CREATE ON DATABASE ${info.d} TO ${info.u} (or let an owner run the migration)` });
    } else {
      const tables = ["schema_migrations", "teams", "counters", "tasks", "messages", "events", "presence", "docs", "receipts"];
      const r = await c.query(
        `SELECT t AS table, CASE WHEN to_regclass('${S}.' || t) IS NULL THEN false ELSE has_table_privilege(current_user, '${S}.' || t, CASE WHEN t = 'schema_migrations' THEN 'SELECT' ELSE 'SELECT,INSERT,UPDATE,DELETE' END) END AS ok FROM unnest($1::text[]) t`,
        [tables],
      );
      const missing = r.rows.filter((x: { ok: boolean }) => !x.ok).map((x: { table: string }) => x.table);
      findings.push({ check: "rights", ok: !missing.length, detail: !missing.length ? "may read and write every clanker-teams table" : `"${info.u}" lacks SELECT/INSERT/UPDATE/DELETE on ${missing.map((t: string) => `${S}.${t}`).join(", ")}` });
    }
  } catch (e) {
    findings.push({ check: "reachable", ok: false, detail: `query failed at ${location}: ${(e as Error).message}` });
  } finally {
    await c.end().catch(() => {});
  }
  return done();
}
