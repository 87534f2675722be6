/**
 * The PostgreSQL store: TeamStore over one database that agents on many hosts
 * share (selected by CLANKER_TEAMS_DB=postgres://…; see store/open.ts).
 *
 * Every change is one transaction (conn.ts: retried after lost connections,
 * never dropped silently). Rules run on a private copy of a row locked with
 * SELECT … FOR UPDATE; the work queue skips rows another writer holds (FOR
 * UPDATE SKIP LOCKED); dependency transactions serialize on their team's
 * row. Events get their seq from the team's counter row, updated as the last
 * statement before COMMIT: the row lock orders the commits, so seqs are
 * gapless and increase in commit order while the lock is held only briefly.
 * Task ids come from the same row, also taken at commit (rules see a
 * provisional id, replaced in everything they wrote). Times that judge
 * liveness (heartbeats, event times, now()) are the server's clock.
 */
import { createHash } from "node:crypto";
import { TeamsError } from "../../errors.js";
import { EventSchema, MessageSchema, RuntimeSchema, TaskSchema, TaskSummarySchema, TeamConfigSchema, type Message, type Runtime, type Task, type TaskSummary, type TeamConfig, type TeamEvent } from "../../schemas.js";
import { validateName } from "../../names.js";
import type { DocEdit, Edit, EditFirstFilter, Edited, EventInput, HistoryPage, TaskTx, TeamStore, WatchTopic } from "../types.js";
import { Db, guard, loadPg, sqlState, type Pool, type PoolClient, type Q, type TxOutcome } from "./conn.js";
import { assertEdgesKept, checkStorable, fromRow, j, Provisional, replaceIds, summaryOf, taskKey, toRow } from "./rows.js";
import { SCHEMA } from "./schema.js";
import { Listener } from "./watch.js";

export { migrate, doctor, LATEST as SCHEMA_VERSION } from "./schema.js";
export { redact as redactUrl } from "./conn.js";

const S = SCHEMA;
/** How long the store trusts its estimate of the server's clock before asking again. */
const CLOCK_REFRESH_MS = 30_000;
/** How long withLock waits for a busy lock (as the JSON store). */
function lockWaitMs(): number {
  return Number(process.env.CLANKER_TEAMS_LOCK_WAIT_MS) || 30_000;
}

const ISO = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/**
 * The index row's fields, each as it is stored (the object is built here: building it with
 * jsonb_build_object and jsonb_strip_nulls on the server cost 4 × the time of the whole query).
 */
const SUMMARY_COLS = `t.data->'id' AS s_id, t.data->'subject' AS s_subject, t.data->'status' AS s_status, t.data->'owner' AS s_owner, t.data->'blockedBy' AS s_blocked_by, t.data->'blocks' AS s_blocks, t.data->'createdAt' AS s_created_at`;
interface SummaryCols { s_id: unknown; s_subject: unknown; s_status: unknown; s_owner: unknown; s_blocked_by: unknown; s_blocks: unknown; s_created_at: unknown }
/** The index row from SUMMARY_COLS: absent and null fields left out, an empty owner too. */
function summaryRow(r: SummaryCols): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => { if (v !== null && v !== undefined) o[k] = v; };
  put("id", r.s_id);
  put("subject", r.s_subject);
  put("status", r.s_status);
  put("owner", r.s_owner === "" ? null : r.s_owner);
  put("blockedBy", r.s_blocked_by);
  put("blocks", r.s_blocks);
  put("createdAt", r.s_created_at);
  return o;
}

function notFound(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" does not exist.`, { team });
}

function taskNotFound(team: string, id: string): TeamsError {
  return new TeamsError("NOT_FOUND", `task_id: task "${id}" does not exist in team "${team}"; task_list shows the ids.`, { id });
}

/** Thrown inside a transaction to run it again from the start (a concurrent insert won a race). */
class RunAgain extends Error {
  readonly code = "40001";
  readonly severity = "ERROR";
}

/** A monotonic wall clock: Date.now() may jump (NTP); the offset to the server is measured against this. */
function mono(): number {
  return performance.timeOrigin + performance.now();
}

function checkEvents(events: EventInput[] | undefined, what: string): EventInput[] {
  const list = events ?? [];
  list.forEach((e, i) => {
    if (!e || typeof e.actor !== "string") throw new TeamsError("INVALID_INPUT", `${what}: events.${i}.actor: must be a string. Nothing was saved.`, { field: `events.${i}.actor` });
    if (typeof e.kind !== "string") throw new TeamsError("INVALID_INPUT", `${what}: events.${i}.kind: must be a string. Nothing was saved.`, { field: `events.${i}.kind` });
    if (e.data !== undefined && (typeof e.data !== "object" || e.data === null || Array.isArray(e.data))) throw new TeamsError("INVALID_INPUT", `${what}: events.${i}.data: must be an object. Nothing was saved.`, { field: `events.${i}.data` });
  });
  checkStorable(list, `${what}: events`);
  return list;
}

/** TeamStore over one PostgreSQL database. */
export class PgStore implements TeamStore {
  readonly kind = "postgres" as const;
  readonly location: string;
  private readonly db: Db;
  private readonly listener: Listener;
  private readonly injectedNow?: () => number;
  private clock?: { offset: number; at: number };
  private clockP?: Promise<number>;
  private lockPoolP?: Promise<Pool>;

  constructor(readonly opts: { url: string; now?: () => number }) {
    this.db = new Db(opts.url);
    this.location = this.db.location;
    this.injectedNow = opts.now;
    this.listener = new Listener(this.db);
  }

  childEnv(): Record<string, string> {
    return { CLANKER_TEAMS_DB: this.opts.url };
  }

  /** The server's clock (ms), from a cached offset to this host's monotonic clock, refreshed every CLOCK_REFRESH_MS. */
  async now(): Promise<number> {
    if (this.injectedNow) return this.injectedNow();
    const c = this.clock;
    if (c && mono() - c.at < CLOCK_REFRESH_MS) return Math.round(mono() + c.offset);
    if (c) {
      void this.measureClock().catch(() => {}); // refresh in the background; the old offset is still good
      return Math.round(mono() + c.offset);
    }
    return this.measureClock();
  }

  private measureClock(): Promise<number> {
    this.clockP ??= (async () => {
      try {
        let best: { offset: number; rtt: number } | undefined;
        // The least delayed of a few readings: the offset's error is at most half its round trip.
        for (let i = 0; i < 3; i++) {
          const t0 = mono();
          const r = await this.db.query<{ ms: number }>("read the database clock", "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms");
          const t1 = mono();
          const offset = r[0].ms - (t0 + t1) / 2;
          if (!best || t1 - t0 < best.rtt) best = { offset, rtt: t1 - t0 };
          if (best.rtt < 2) break;
        }
        this.clock = { offset: best!.offset, at: mono() };
        return Math.round(mono() + best!.offset);
      } finally {
        this.clockP = undefined;
      }
    })();
    return this.clockP;
  }

  /** A time to stamp rows with: the injected clock's (tests), else null for the server's clock_timestamp(). */
  private stamp(): string | null {
    return this.injectedNow ? new Date(this.injectedNow()).toISOString() : null;
  }

  /** A transaction on the team: foreign-key failures (the team is gone) become NOT_FOUND. */
  private tx<T>(team: string, what: string, body: (q: Q) => Promise<TxOutcome<T>>): Promise<T> {
    return this.db.tx(what, (q) => {
      const qq = ((sql: string, params?: unknown[]) => {
        const p = q(sql, params).catch((e) => {
          if (sqlState(e) === "23503") throw notFound(team);
          throw e;
        });
        p.catch(() => {}); // as conn.ts: an unawaited statement's failure reaches the caller another way
        return p;
      }) as Q;
      return body(qq);
    });
  }

  private async requireTeam(q: Q, team: string): Promise<void> {
    const r = await q(`SELECT 1 FROM ${S}.teams WHERE name = $1`, [team]);
    if (!r.rowCount) throw notFound(team);
  }

  private async teamExists(team: string): Promise<boolean> {
    return (await this.db.query(`read team "${team}"`, `SELECT 1 FROM ${S}.teams WHERE name = $1`, [team])).length > 0;
  }

  /**
   * Logs events with the next seqs of the team's counter row: the last
   * statement before COMMIT, so the row (and the order of commits) is held
   * only for this statement and the COMMIT.
   */
  private async insertEvents(q: Q, team: string, events: EventInput[]): Promise<void> {
    if (!events.length) return;
    const r = await q(
      `WITH c AS (
         UPDATE ${S}.counters SET event_seq = event_seq + $2 WHERE team = $1
         RETURNING event_seq - $2 AS base, coalesce($4::timestamptz, clock_timestamp()) AS t)
       INSERT INTO ${S}.events (team, seq, time, actor, kind, data)
       SELECT $1, c.base + e.ord, c.t, e.v->>'actor', e.v->>'kind', coalesce(e.v->'data', '{}'::jsonb)
       FROM c, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(v, ord)`,
      [team, events.length, j(events.map((e) => ({ actor: e.actor, kind: e.kind, data: e.data ?? {} }))), this.stamp()],
    );
    if (r.rowCount !== events.length) throw notFound(team);
  }

  /**
   * One statement that runs `write` (its $1 is the team; it must take RETURNING)
   * and logs `events` as insertEvents does: one round trip, the counter row
   * locked by the same statement. Resolves to the number of rows `write` touched.
   */
  private writeWithEvents(q: Q, team: string, write: [string, unknown[]], events: EventInput[]): Promise<number> {
    if (!events.length) return q(write[0], write[1]).then((r) => r.rowCount);
    const params = [...write[1]];
    const n = params.length;
    params.push(events.length, j(events.map((e) => ({ actor: e.actor, kind: e.kind, data: e.data ?? {} }))), this.stamp());
    const sql = `WITH w AS (${write[0]} RETURNING 1),
       c AS (
         UPDATE ${S}.counters SET event_seq = event_seq + $${n + 1} WHERE team = $1
         RETURNING event_seq - $${n + 1} AS base, coalesce($${n + 3}::timestamptz, clock_timestamp()) AS t),
       e AS (
         INSERT INTO ${S}.events (team, seq, time, actor, kind, data)
         SELECT $1, c.base + e.ord, c.t, e.v->>'actor', e.v->>'kind', coalesce(e.v->'data', '{}'::jsonb)
         FROM c, jsonb_array_elements($${n + 2}::jsonb) WITH ORDINALITY AS e(v, ord)
         RETURNING 1)
       SELECT (SELECT count(*) FROM w)::int AS w, (SELECT count(*) FROM e)::int AS e`;
    return q<{ w: number; e: number }>(sql, params).then((r) => {
      if (r.rows[0].e !== events.length) throw notFound(team);
      return r.rows[0].w;
    });
  }

  private taskFrom(data: unknown, team: string, id: string): Task {
    return fromRow(TaskSchema, data, `task ${id} of team "${team}" (table ${S}.tasks)`, `UPDATE ${S}.tasks SET data = … WHERE team = '${team}' AND id = ${id}`);
  }

  // ---- teams -------------------------------------------------------------------

  async listTeams(): Promise<string[]> {
    const rows = await this.db.query<{ name: string }>("list teams", `SELECT name FROM ${S}.teams`);
    return rows.map((r) => r.name).sort();
  }

  async getTeam(team: string): Promise<TeamConfig | undefined> {
    validateName("team_name", team);
    const rows = await this.db.query<{ config: unknown }>(`read team "${team}"`, `SELECT config FROM ${S}.teams WHERE name = $1`, [team]);
    return rows.length ? this.configFrom(rows[0].config, team) : undefined;
  }

  private configFrom(v: unknown, team: string): TeamConfig {
    return fromRow(TeamConfigSchema, v, `config of team "${team}" (table ${S}.teams)`, `UPDATE ${S}.teams SET config = … WHERE name = '${team}'`);
  }

  async createTeam(cfg: TeamConfig, events?: EventInput[]): Promise<void> {
    const team = validateName("team_name", cfg?.name);
    toRow(TeamConfigSchema, cfg, `team "${team}" config`);
    const evs = checkEvents(events, `team "${team}"`);
    await this.tx(team, `create team "${team}"`, async (q) => {
      const r = await q(`INSERT INTO ${S}.teams (name, config) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING`, [team, j(cfg)]);
      if (!r.rowCount) throw new TeamsError("CONFLICT", `team "${team}" already exists; pick another team_name or team_delete it first.`, { team });
      const pending = [q(`INSERT INTO ${S}.counters (team) VALUES ($1)`, [team]), this.insertEvents(q, team, evs)];
      return { result: undefined, commit: true, pending };
    });
  }

  async editTeam<R>(team: string, rule: (cfg: TeamConfig) => Edit<R>): Promise<Edited<TeamConfig, R>> {
    validateName("team_name", team);
    return this.tx<Edited<TeamConfig, R>>(team, `edit team "${team}"`, async (q) => {
      const r = await q(`SELECT config FROM ${S}.teams WHERE name = $1 FOR NO KEY UPDATE`, [team]);
      if (!r.rowCount) throw notFound(team);
      const before = this.configFrom(r.rows[0].config, team);
      const cur = structuredClone(before);
      const edit = rule(cur);
      if (!edit.write) return { result: { value: edit.value, current: before, written: false }, commit: false };
      toRow(TeamConfigSchema, cur, `team "${team}" config`);
      const evs = checkEvents(edit.events, `team "${team}"`);
      const pending = [this.writeWithEvents(q, team, [`UPDATE ${S}.teams SET config = $2::jsonb WHERE name = $1`, [team, j(cur)]], evs)];
      return { result: { value: edit.value, current: cur, written: true }, commit: true, pending };
    });
  }

  async deleteTeam(team: string): Promise<void> {
    validateName("team_name", team);
    // Every row of the team goes with its team row (ON DELETE CASCADE).
    await this.tx(team, `delete team "${team}"`, async (q) => {
      return { result: undefined, commit: true, pending: [q(`DELETE FROM ${S}.teams WHERE name = $1`, [team])] };
    });
  }

  // ---- tasks -------------------------------------------------------------------

  async getTask(team: string, id: string): Promise<Task | undefined> {
    validateName("team_name", team);
    const key = typeof id === "string" ? taskKey(id) : undefined;
    const rows = await this.db.query<{ data: unknown }>(
      `read task ${id} of team "${team}"`,
      `SELECT t.data FROM ${S}.teams tm LEFT JOIN ${S}.tasks t ON t.team = tm.name AND t.id = $2::bigint WHERE tm.name = $1`,
      [team, key ?? null],
    );
    if (!rows.length) throw notFound(team);
    return rows[0].data == null ? undefined : this.taskFrom(rows[0].data, team, id);
  }

  async listTasks(team: string): Promise<TaskSummary[]> {
    validateName("team_name", team);
    const rows = await this.db.query<{ id: string | null } & SummaryCols>(
      `list the tasks of team "${team}"`,
      `SELECT t.id::text AS id, ${SUMMARY_COLS} FROM ${S}.teams tm LEFT JOIN ${S}.tasks t ON t.team = tm.name WHERE tm.name = $1 ORDER BY t.id`,
      [team],
    );
    if (!rows.length) throw notFound(team);
    return rows.filter((r) => r.id !== null).map((r) => fromRow(TaskSummarySchema, summaryRow(r), `task ${r.id} of team "${team}" (table ${S}.tasks)`, `UPDATE ${S}.tasks SET data = … WHERE team = '${team}' AND id = ${r.id}`));
  }

  async createTask(team: string, build: (id: string) => { task: Task; events?: EventInput[] }): Promise<Task> {
    validateName("team_name", team);
    const prov = new Provisional();
    const token = prov.next();
    const made = build(token);
    const draft: Task = { ...made.task, id: token };
    toRow(TaskSchema, draft, `new task of team "${team}"`);
    const evs = checkEvents(made.events, `new task of team "${team}"`);
    return this.tx(team, `create a task in team "${team}"`, async (q) => {
      // The id is taken at the end, with the events: the counter row is held only until COMMIT.
      const r = await q<{ id: string }>(`UPDATE ${S}.counters SET next_task_id = next_task_id + 1 WHERE team = $1 RETURNING (next_task_id - 1)::text AS id`, [team]);
      if (!r.rowCount) throw notFound(team);
      const id = r.rows[0].id;
      const map = new Map([[token, id]]);
      const task = replaceIds(draft, map);
      task.id = id;
      const pending = [
        this.writeWithEvents(q, team, [`INSERT INTO ${S}.tasks (team, id, data, status, owner) VALUES ($1, $2::bigint, $3::jsonb, $4, $5)`, [team, id, j(task), task.status, task.owner ?? null]], replaceIds(evs, map)),
      ];
      return { result: task, commit: true, pending };
    });
  }

  async editTask<R>(team: string, id: string, rule: (t: Task) => Edit<R>): Promise<Edited<Task, R>> {
    validateName("team_name", team);
    const key = taskKey(String(id));
    return this.tx(team, `edit task ${id} of team "${team}"`, async (q) => {
      const r = key ? await q(`SELECT data FROM ${S}.tasks WHERE team = $1 AND id = $2::bigint FOR UPDATE`, [team, key]) : { rows: [], rowCount: 0 };
      if (!r.rowCount) {
        await this.requireTeam(q, team);
        throw taskNotFound(team, id);
      }
      return this.applyRule(q, team, id, r.rows[0].data, rule);
    });
  }

  /** Runs a task rule on a locked row and writes its copy (with its events) when it says so. */
  private async applyRule<R>(q: Q, team: string, id: string, data: unknown, rule: (t: Task) => Edit<R>): Promise<TxOutcome<Edited<Task, R>>> {
    const before = this.taskFrom(data, team, id);
    const copy = structuredClone(before);
    const edit = rule(copy);
    if (!edit.write) return { result: { value: edit.value, current: before, written: false }, commit: false };
    assertEdgesKept(before, copy);
    copy.id = before.id;
    toRow(TaskSchema, copy, `task ${id} of team "${team}"`);
    const evs = checkEvents(edit.events, `task ${id} of team "${team}"`);
    const pending = [
      this.writeWithEvents(q, team, [`UPDATE ${S}.tasks SET data = $3::jsonb, status = $4, owner = $5, updated_at = clock_timestamp() WHERE team = $1 AND id = $2::bigint`, [team, before.id, j(copy), copy.status, copy.owner ?? null]], evs),
    ];
    return { result: { value: edit.value, current: copy, written: true }, commit: true, pending };
  }

  async editFirst<R>(team: string, ids: string[], rule: (t: Task) => Edit<R> | null, only?: EditFirstFilter): Promise<Edited<Task, R> | undefined> {
    validateName("team_name", team);
    const keys = ids.map((id) => taskKey(String(id))).filter((k): k is string => k !== undefined);
    if (!keys.length) {
      if (!(await this.teamExists(team))) throw notFound(team);
      return undefined;
    }
    const skip = Symbol("skip");
    // One transaction: each statement locks the first candidate (in the given order) that matches `only`
    // and that no other writer holds right now; the rule judges it; a refused one is passed over.
    const out = await this.tx<Edited<Task, R> | typeof skip>(team, `take a task from the queue of team "${team}"`, async (q) => {
      const refused: string[] = [];
      for (;;) {
        const r = await q<{ id: string; data: unknown }>(
          `SELECT t.id::text AS id, t.data
           FROM unnest($2::bigint[]) WITH ORDINALITY AS k(id, ord) JOIN ${S}.tasks t ON t.team = $1 AND t.id = k.id
           WHERE ($3::text IS NULL OR t.status = $3) AND (NOT $4::boolean OR coalesce(t.owner, '') = '') AND t.id <> ALL($5::bigint[])
           ORDER BY k.ord LIMIT 1 FOR UPDATE OF t SKIP LOCKED`,
          [team, keys, only?.status ?? null, only?.unowned === true, refused],
        );
        if (!r.rowCount) {
          if (!refused.length) await this.requireTeam(q, team);
          return { result: skip, commit: false };
        }
        const id = r.rows[0].id;
        let verdict: Edit<R> | null = null;
        const res = await this.applyRule(q, team, id, r.rows[0].data, (t) => {
          verdict = rule(t);
          return verdict ?? { value: undefined as R, write: false };
        });
        if (verdict !== null) return res;
        refused.push(id);
      }
    });
    return out === skip ? undefined : out as Edited<Task, R>;
  }

  async transact<R>(team: string, fn: (tx: TaskTx) => Promise<R>): Promise<R> {
    validateName("team_name", team);
    return this.tx(team, `change the dependencies in team "${team}"`, async (q) => {
      // The team's row serializes dependency transactions: a cycle check sees every edge.
      const r = await q(`SELECT 1 FROM ${S}.teams WHERE name = $1 FOR NO KEY UPDATE`, [team]);
      if (!r.rowCount) throw notFound(team);
      const tx = new PgTx(q, team, this);
      const value = await fn(tx);
      return tx.commit(value);
    });
  }

  /** For PgTx. @internal */
  async _insertEvents(q: Q, team: string, events: EventInput[]): Promise<void> {
    return this.insertEvents(q, team, events);
  }

  /** For PgTx. @internal */
  _taskFrom(data: unknown, team: string, id: string): Task {
    return this.taskFrom(data, team, id);
  }

  // ---- messages ---------------------------------------------------------------

  async deliver(team: string, msgs: Message[], events?: EventInput[]): Promise<void> {
    validateName("team_name", team);
    if (!msgs.length && !events?.length) return;
    msgs.forEach((m, i) => toRow(MessageSchema, m, `message ${i} (${m?.id})`));
    const evs = checkEvents(events, `messages to team "${team}"`);
    await this.tx(team, `deliver ${msgs.length} message(s) in team "${team}"`, async (q) => {
      // One round trip: the insert, the events and the COMMIT go out together (a failed insert turns the COMMIT into a ROLLBACK).
      if (!msgs.length) return { result: undefined, commit: true, pending: [this.insertEvents(q, team, evs)] };
      const insert = this.writeWithEvents(q, team, [
        `INSERT INTO ${S}.messages (team, agent, id, data, read)
         SELECT $1, m->>'to', m->>'id', m, coalesce((m->>'read')::boolean, false) FROM jsonb_array_elements($2::jsonb) AS m`,
        [team, j(msgs)],
      ], evs).catch((e) => {
        if (sqlState(e) === "23505") throw new TeamsError("CONFLICT", `a message with one of these ids (${msgs.map((m) => m.id).join(", ")}) is already in that inbox; message ids are unique.`, { team });
        throw e;
      });
      return { result: undefined, commit: true, pending: [insert] };
    });
  }

  async unread(team: string, agent: string): Promise<Message[]> {
    validateName("team_name", team);
    const rows = await this.db.query<{ data: unknown }>(
      `read the inbox of "${agent}" in team "${team}"`,
      `SELECT m.data FROM ${S}.teams tm LEFT JOIN ${S}.messages m ON m.team = tm.name AND m.agent = $2 AND NOT m.read WHERE tm.name = $1 ORDER BY m.pos`,
      [team, agent],
    );
    if (!rows.length) throw notFound(team);
    return rows.filter((r) => r.data != null).map((r) => this.messageFrom(r.data, team, agent));
  }

  private messageFrom(v: unknown, team: string, agent: string): Message {
    return fromRow(MessageSchema, v, `a message to "${agent}" in team "${team}" (table ${S}.messages)`, `UPDATE ${S}.messages SET data = … WHERE team = '${team}' AND agent = '${agent}' AND id = …`);
  }

  async unreadCount(team: string, agent: string): Promise<number> {
    validateName("team_name", team);
    const rows = await this.db.query<{ ok: boolean; n: number }>(
      `count the unread messages of "${agent}" in team "${team}"`,
      `SELECT EXISTS (SELECT 1 FROM ${S}.teams WHERE name = $1) AS ok, (SELECT count(*) FROM ${S}.messages WHERE team = $1 AND agent = $2 AND NOT read)::int AS n`,
      [team, agent],
    );
    if (!rows[0].ok) throw notFound(team);
    return rows[0].n;
  }

  async markRead(team: string, agent: string, ids: string[] | "all", actor: string): Promise<Message[]> {
    validateName("team_name", team);
    if (ids !== "all" && !ids.length) {
      if (!(await this.teamExists(team))) throw notFound(team);
      return [];
    }
    return this.tx(team, `mark messages of "${agent}" read in team "${team}"`, async (q) => {
      // Row locks: of two concurrent callers, the second re-checks NOT read after the first commits; each message is marked once.
      const set = `UPDATE ${S}.messages SET read = true, data = jsonb_set(data, '{read}', 'true') WHERE team = $1 AND agent = $2 AND NOT read`;
      const r = ids === "all"
        ? await q<{ pos: string; data: unknown }>(`${set} RETURNING pos, data`, [team, agent])
        : await q<{ pos: string; data: unknown }>(`${set} AND id = ANY($3::text[]) RETURNING pos, data`, [team, agent, ids]);
      if (!r.rowCount) {
        await this.requireTeam(q, team);
        return { result: [], commit: false };
      }
      const marked = r.rows.sort((a, b) => Number(a.pos) - Number(b.pos)).map((x) => this.messageFrom(x.data, team, agent));
      const pending = [this.insertEvents(q, team, [{ actor, kind: "message.read", data: { agent, count: marked.length, ids: marked.slice(-50).map((m) => m.id) } }])];
      return { result: marked, commit: true, pending };
    });
  }

  async history(team: string, agent: string, opts: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    validateName("team_name", team);
    const limit = Math.max(1, Math.floor(opts.limit ?? 100));
    const rows = await this.db.query<{ total: number; data: unknown; idx: string | null; before: number }>(
      `read the history of "${agent}" in team "${team}"`,
      `WITH inbox AS (
         SELECT data, row_number() OVER (ORDER BY pos) - 1 AS idx FROM ${S}.messages WHERE team = $1 AND agent = $2),
       n AS (SELECT count(*)::int AS total FROM inbox),
       b AS (SELECT total, least(coalesce($3::int, total), total) AS before FROM n)
       SELECT b.total, b.before, p.data, p.idx::text AS idx
       FROM ${S}.teams tm CROSS JOIN b
       LEFT JOIN inbox p ON p.idx >= greatest(0, b.before - $4::int) AND p.idx < b.before
       WHERE tm.name = $1 ORDER BY p.idx`,
      [team, agent, opts.before ?? null, limit],
    );
    if (!rows.length) throw notFound(team);
    const { total, before } = rows[0];
    const start = Math.max(0, before - limit);
    const messages = rows.filter((r) => r.idx !== null).map((r) => this.messageFrom(r.data, team, agent));
    return { messages, nextBefore: start > 0 ? start : undefined, total };
  }

  // ---- events -------------------------------------------------------------------

  async appendEvents(team: string, events: EventInput[]): Promise<void> {
    validateName("team_name", team);
    if (!events.length) return;
    const evs = checkEvents(events, `events of team "${team}"`);
    await this.tx(team, `log events in team "${team}"`, async (q) => {
      return { result: undefined, commit: true, pending: [this.insertEvents(q, team, evs)] };
    });
  }

  async readEvents(team: string, afterSeq = 0, limit = Infinity): Promise<TeamEvent[]> {
    validateName("team_name", team);
    const lim = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : null;
    const rows = await this.db.query<{ seq: string | null; time: string; actor: string; kind: string; data: Record<string, unknown> }>(
      `read the events of team "${team}"`,
      `SELECT e.seq::text AS seq, ${ISO("e.time")} AS time, e.actor, e.kind, e.data
       FROM ${S}.teams tm LEFT JOIN LATERAL (
         SELECT * FROM ${S}.events WHERE team = tm.name AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint) e ON true
       WHERE tm.name = $1 ORDER BY e.seq`,
      [team, Math.floor(afterSeq), lim],
    );
    if (!rows.length) throw notFound(team);
    return rows.filter((r) => r.seq !== null).map((r) => fromRow(EventSchema, { seq: Number(r.seq), time: r.time, actor: r.actor, kind: r.kind, data: r.data }, `event ${r.seq} of team "${team}" (table ${S}.events)`, `UPDATE ${S}.events SET data = … WHERE team = '${team}' AND seq = ${r.seq}`));
  }

  // ---- presence -----------------------------------------------------------------

  async getPresence(team: string, agent: string): Promise<Runtime | undefined> {
    validateName("team_name", team);
    validateName("agent_name", agent);
    const rows = await this.db.query<{ data: unknown }>(`read the presence of "${agent}"`, `SELECT data FROM ${S}.presence WHERE team = $1 AND agent = $2`, [team, agent]);
    if (!rows.length) return undefined;
    // As the JSON store: a presence that breaks the schema counts as absent (the agent's next heartbeat rewrites it).
    const r = RuntimeSchema.safeParse(rows[0].data);
    return r.success ? r.data : undefined;
  }

  async listPresence(team: string): Promise<Runtime[]> {
    validateName("team_name", team);
    const rows = await this.db.query<{ data: unknown }>(`list the presence of team "${team}"`, `SELECT data FROM ${S}.presence WHERE team = $1 ORDER BY agent`, [team]);
    const out: Runtime[] = [];
    for (const r of rows) {
      const p = RuntimeSchema.safeParse(r.data);
      if (p.success) out.push(p.data);
    }
    return out;
  }

  async putPresence(team: string, agent: string, patch: Partial<Runtime>): Promise<Runtime> {
    validateName("team_name", team);
    validateName("agent_name", agent);
    toRow(RuntimeSchema.partial(), patch, `presence of "${agent}"`);
    // Stamped with the server's clock in the statement itself: never a host's own clock.
    return this.tx(team, `record the presence of "${agent}"`, async (q) => {
      const r = await q<{ data: Runtime }>(
        `WITH n AS (SELECT coalesce($5::timestamptz, clock_timestamp()) AS t)
         INSERT INTO ${S}.presence AS p (team, agent, data, heartbeat_at)
         SELECT $1, $2, jsonb_build_object('agent', $2::text, 'pid', $4::int, 'host', '', 'state', 'starting', 'startedAt', ${ISO("n.t")}, 'heartbeatAt', ${ISO("n.t")}) || $3::jsonb, n.t FROM n
         ON CONFLICT (team, agent) DO UPDATE
           SET data = p.data || jsonb_build_object('heartbeatAt', ${ISO("excluded.heartbeat_at")}) || $3::jsonb, heartbeat_at = excluded.heartbeat_at
         RETURNING data`,
        [team, agent, j(patch ?? {}), process.pid, this.stamp()],
      );
      return { result: r.rows[0].data, commit: true };
    });
  }

  async removePresence(team: string, agent: string): Promise<void> {
    validateName("team_name", team);
    validateName("agent_name", agent);
    await this.db.query(`remove the presence of "${agent}"`, `DELETE FROM ${S}.presence WHERE team = $1 AND agent = $2`, [team, agent]);
  }

  // ---- documents ---------------------------------------------------------------

  async getDoc<T>(team: string, coll: string, key: string): Promise<T | undefined> {
    validateName("team_name", team);
    const rows = await this.db.query<{ value: T | null; ok: boolean }>(
      `read document ${coll}/${key} of team "${team}"`,
      `SELECT d.value FROM ${S}.teams tm LEFT JOIN ${S}.docs d ON d.team = tm.name AND d.coll = $2 AND d.key = $3 WHERE tm.name = $1`,
      [team, coll, key],
    );
    if (!rows.length) throw notFound(team);
    return rows[0].value ?? undefined;
  }

  async listDocs<T>(team: string, coll: string): Promise<Array<{ key: string; value: T }>> {
    validateName("team_name", team);
    const rows = await this.db.query<{ key: string | null; value: T }>(
      `list documents ${coll} of team "${team}"`,
      `SELECT d.key, d.value FROM ${S}.teams tm LEFT JOIN ${S}.docs d ON d.team = tm.name AND d.coll = $2 WHERE tm.name = $1 ORDER BY d.key`,
      [team, coll],
    );
    if (!rows.length) throw notFound(team);
    return rows.filter((r) => r.key !== null).map((r) => ({ key: r.key!, value: r.value }));
  }

  async editDoc<T, R>(team: string, coll: string, key: string, rule: (cur: T | undefined) => DocEdit<T, R>): Promise<R> {
    validateName("team_name", team);
    return this.tx(team, `edit document ${coll}/${key} of team "${team}"`, async (q) => {
      const r = await q<{ value: T }>(`SELECT value FROM ${S}.docs WHERE team = $1 AND coll = $2 AND key = $3 FOR UPDATE`, [team, coll, key]);
      const had = r.rowCount > 0;
      if (!had) await this.requireTeam(q, team);
      const res = rule(had ? r.rows[0].value : undefined);
      if (res.write === undefined) return { result: res.value, commit: false };
      const evs = checkEvents(res.events, `document ${coll}/${key}`);
      const pending: Array<Promise<unknown>> = [];
      if (res.write === null) {
        if (had) pending.push(q(`DELETE FROM ${S}.docs WHERE team = $1 AND coll = $2 AND key = $3`, [team, coll, key]));
      } else {
        checkStorable(res.write, `document ${coll}/${key}`);
        if (had) pending.push(q(`UPDATE ${S}.docs SET value = $4::jsonb WHERE team = $1 AND coll = $2 AND key = $3`, [team, coll, key, j(res.write)]));
        else {
          const ins = await q(`INSERT INTO ${S}.docs (team, coll, key, value) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING`, [team, coll, key, j(res.write)]);
          // Another writer created it after our read: judge again on its value.
          if (!ins.rowCount) throw new RunAgain("document created concurrently");
        }
      }
      pending.push(this.insertEvents(q, team, evs));
      return { result: res.value, commit: true, pending };
    });
  }

  // ---- locks and notification -------------------------------------------------------

  private lockPool(): Promise<Pool> {
    this.lockPoolP ??= (async () => {
      const pg = await loadPg();
      await this.db.getPool(); // the same reachability and schema checks first
      const pool = new pg.Pool({ ...(await this.db.config()), max: 8, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
      pool.on("error", () => {});
      return pool;
    })().catch((e) => {
      this.lockPoolP = undefined;
      throw e;
    });
    return this.lockPoolP;
  }

  /**
   * A session-level advisory lock on a connection of its own, held while `fn`
   * runs: the server releases it when that connection drops (a dead holder,
   * another host cut off), so nobody waits for a stale lock.
   */
  async withLock<T>(team: string, name: string, fn: () => Promise<T>): Promise<T> {
    validateName("team_name", team);
    const digest = createHash("sha256").update(`clanker-teams\u0000${team}\u0000${String(name).toLowerCase()}`).digest();
    const key = digest.readBigInt64BE(0).toString();
    const what = `lock "${name}" of team "${team}"`;
    const client: PoolClient = await this.db.retry(what, async () => guard(await (await this.lockPool()).connect()));
    try {
      await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${lockWaitMs()}ms`]);
      await client.query(`SELECT pg_advisory_lock($1::bigint)`, [key]);
    } catch (e) {
      client.release(e as Error);
      if (sqlState(e) === "55P03") {
        throw new TeamsError("LOCKED", `${what} stayed locked for ${Math.round(lockWaitMs() / 1000)} s; its holder is connected to ${this.location}, so it is alive. Retry; if it persists, look for a hung clanker-teams or agent process (a dead holder's lock is released when its connection drops).`, { team, name });
      }
      throw this.db.mapError(e, what, false);
    }
    try {
      return await fn();
    } finally {
      try {
        await client.query(`SELECT pg_advisory_unlock($1::bigint)`, [key]);
        client.release();
      } catch (e) {
        client.release(e as Error); // the connection is gone, and the lock with it
      }
    }
  }

  watch(team: string, topic: WatchTopic, onChange: () => void): () => void {
    validateName("team_name", team);
    return this.listener.add(team, topic, onChange);
  }

  async flush(): Promise<void> {
    // Every acknowledged change is committed: nothing is derived later.
  }

  /** True once close() was called: the store answers nothing any more (openStore makes a new one). */
  closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await this.listener.close();
    const lp = this.lockPoolP;
    this.lockPoolP = undefined;
    if (lp) await (await lp).end().catch(() => {});
    await this.db.close();
  }
}

/** A dependency transaction (see TaskTx): rows read are locked; writes, creates and events happen at commit. */
class PgTx implements TaskTx {
  private loaded = new Map<string, Task>();
  private dirty = new Set<string>();
  private creates: Task[] = [];
  private events: EventInput[] = [];
  private prov = new Provisional();

  constructor(private q: Q, private team: string, private store: PgStore) {}

  async get(id: string): Promise<Task | undefined> {
    const have = this.loaded.get(id);
    if (have) return have;
    const key = taskKey(String(id));
    if (!key) return undefined;
    const r = await this.q(`SELECT data FROM ${S}.tasks WHERE team = $1 AND id = $2::bigint FOR UPDATE`, [this.team, key]);
    if (!r.rowCount) return undefined;
    const t = this.store._taskFrom(r.rows[0].data, this.team, id);
    this.loaded.set(id, t);
    return t;
  }

  async list(): Promise<TaskSummary[]> {
    const r = await this.q<{ id: string } & SummaryCols>(`SELECT t.id::text AS id, ${SUMMARY_COLS} FROM ${S}.tasks t WHERE t.team = $1 ORDER BY t.id`, [this.team]);
    const rows = new Map<string, TaskSummary>();
    for (const x of r.rows) rows.set(x.id, fromRow(TaskSummarySchema, summaryRow(x), `task ${x.id} of team "${this.team}" (table ${S}.tasks)`, `UPDATE ${S}.tasks SET data = … WHERE team = '${this.team}' AND id = ${x.id}`));
    for (const [id, t] of this.loaded) rows.set(id, summaryOf(t));
    return [...rows.values()].sort((a, b) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : 1));
  }

  put(task: Task): void {
    const i = this.creates.findIndex((c) => c.id === task.id);
    if (i >= 0) this.creates[i] = task;
    else this.dirty.add(task.id);
    this.loaded.set(task.id, task);
  }

  async create(build: (id: string) => Task): Promise<Task> {
    const id = this.prov.next();
    const t = build(id);
    t.id = id;
    this.creates.push(t);
    this.loaded.set(id, t);
    return t;
  }

  event(e: EventInput): void {
    this.events.push(e);
  }

  /** Writes everything at the end of the transaction; returns fn's value with the real ids. */
  async commit<R>(value: R): Promise<TxOutcome<R>> {
    if (!this.dirty.size && !this.creates.length && !this.events.length) return { result: value, commit: false };
    const team = this.team;
    const puts = [...this.dirty].map((id) => this.loaded.get(id)!);
    for (const t of [...puts, ...this.creates]) toRow(TaskSchema, t, `task ${t.id} of team "${team}"`);
    const evs = checkEvents(this.events, `transaction in team "${team}"`);
    const map = new Map<string, string>();
    if (this.creates.length) {
      const k = this.creates.length;
      const r = await this.q<{ first: string }>(`UPDATE ${S}.counters SET next_task_id = next_task_id + $2 WHERE team = $1 RETURNING (next_task_id - $2)::text AS first`, [team, k]);
      if (!r.rowCount) throw notFound(team);
      const first = Number(r.rows[0].first);
      this.prov.tokens.forEach((tok, i) => map.set(tok, String(first + i)));
    }
    // Awaited before the COMMIT goes out: a put of a task that does not exist must fail the whole transaction.
    const updates = puts.map((t0) => {
      const t = replaceIds(t0, map);
      return this.q(`UPDATE ${S}.tasks SET data = $3::jsonb, status = $4, owner = $5, updated_at = clock_timestamp() WHERE team = $1 AND id = $2::bigint`, [team, taskKey(t.id) ?? null, j(t), t.status, t.owner ?? null])
        .then((u) => { if (!u.rowCount) throw taskNotFound(team, t.id); });
    });
    await Promise.all(updates);
    const pending: Array<Promise<unknown>> = [];
    for (const t0 of this.creates) {
      const t = replaceIds(t0, map);
      pending.push(this.q(`INSERT INTO ${S}.tasks (team, id, data, status, owner) VALUES ($1, $2::bigint, $3::jsonb, $4, $5)`, [team, t.id, j(t), t.status, t.owner ?? null]));
    }
    pending.push(this.store._insertEvents(this.q, team, replaceIds(evs, map)));
    return { result: replaceIds(value, map), commit: true, pending };
  }
}


