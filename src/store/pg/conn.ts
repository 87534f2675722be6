/**
 * Connections to one PostgreSQL database: the `pg` client loaded on first use
 * (JSON-store users never load it), one pool per store, the schema migrated
 * before the first query, and the retry rules every call goes through.
 *
 * A lost connection, a server that restarts and a serialization failure or
 * deadlock are retried with backoff for up to CLANKER_TEAMS_DB_RETRY_MS
 * (default 20 s); a transaction runs again from the start, so its rule may
 * run again. A COMMIT whose answer was lost is resolved by the transaction's
 * receipt: every write transaction inserts a random id into `receipts` with
 * its COMMIT, so after reconnecting the receipt is there exactly when it
 * committed (then it is done, never written twice) and otherwise it runs
 * again. The receipt is read only once the connection's server process
 * (its pid, known from the connection's start, so no statement asks for a
 * transaction id) is gone: a process that is gone has finished its
 * transaction, one way or the other. While it is still there (e.g. a network
 * cut) we wait, and end it if it sits idle in its transaction (the COMMIT
 * never arrived; ending it aborts it); when the server cannot tell us in time
 * the caller gets an IO error that says the change may or may not have been
 * saved. Nothing is dropped silently. (Not txid_status(): after a server
 * crash the id of a transaction whose records never reached the disk is
 * handed out again; and asking for the id cost a statement per transaction.)
 */
import { createHash, randomBytes } from "node:crypto";
import type pgTypes from "pg";
import { TeamsError } from "../../errors.js";
import { ensureSchema, SCHEMA } from "./schema.js";

/** Receipts of this process's acknowledged commits wait here to be deleted by a later transaction. */
const RECEIPTS_KEPT = 200;
/** Acknowledged receipts are deleted when this many have gathered. */
const RECEIPTS_BATCH = 32;
/** Receipts older than this (of processes that died) are swept, at most once per SWEEP_EVERY_MS per process. */
const SWEEP_EVERY_MS = 3600_000;

export type Pg = typeof pgTypes;
export type PoolClient = pgTypes.PoolClient;
export type Pool = pgTypes.Pool;
export type Client = pgTypes.Client;

const guarded = new WeakSet<object>();
/**
 * A checked-out client whose connection breaks emits 'error'; unheard, that
 * would crash the process. The failure reaches the caller through its query.
 */
export function guard<C extends { on(ev: "error", fn: (e: Error) => void): unknown }>(client: C): C {
  if (!guarded.has(client)) {
    guarded.add(client);
    client.on("error", () => {});
  }
  return client;
}

const corked = new WeakSet<object>();
/**
 * Holds the connection's socket writes until the event loop's check phase
 * (setImmediate): the client writes every protocol message of a statement
 * separately (parse, bind, describe, execute, sync), and everything a
 * transaction sends before it waits for an answer (BEGIN, its statements,
 * the COMMIT queued by a promise continuation) then goes out in one write.
 */
export function cork(client: object): void {
  const stream = (client as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (!stream?.cork || !stream.uncork || corked.has(stream)) return;
  stream.cork();
  corked.add(stream);
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork!();
  });
}

let pgModule: Promise<Pg> | undefined;
/** The node-postgres module, imported on first use. */
export function loadPg(): Promise<Pg> {
  pgModule ??= import("pg").then((m) => (m.default ?? m) as Pg);
  return pgModule;
}

/** How long lost connections and busy-server errors are retried before a call fails. */
export function retryMs(): number {
  return Number(process.env.CLANKER_TEAMS_DB_RETRY_MS) || 20_000;
}

/**
 * How long the server lets a transaction wait for its client before it ends
 * the session (idle_in_transaction_session_timeout): half the lease
 * (CLANKER_TEAMS_LEASE_MS, default 30 s), between 1 and 10 s. A host that
 * vanishes mid-transaction without a reset reaching the server (a cut
 * network) holds its row locks no longer than that, so the lease sweep that
 * takes its tasks back is not held up past the lease. Transactions here
 * never wait on anything but their own statements (hooks run outside them).
 */
export function idleTxMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.CLANKER_TEAMS_LEASE_MS);
  const lease = Number.isFinite(v) && v >= 1000 ? v : 30_000;
  return Math.min(10_000, Math.max(1000, Math.floor(lease / 2)));
}

/** The URL without its password (for messages and `location`). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "";
    if (u.searchParams.has("password")) u.searchParams.delete("password");
    return u.toString().replace(/^(postgres(?:ql)?:\/\/[^@/]*):@/, "$1@");
  } catch {
    return url.replace(/:[^:@/]*@/, "@");
  }
}

interface PgError { code?: string; message: string; severity?: string }

/** SQLSTATE of a server error (undefined for a socket error). */
export function sqlState(e: unknown): string | undefined {
  const err = e as PgError;
  return err && typeof err.code === "string" && /^[0-9A-Z]{5}$/.test(err.code) && "severity" in err ? err.code : undefined;
}

/** True for errors that a new connection and a second try can cure. */
export function transient(e: unknown): boolean {
  if (e instanceof TeamsError) return false;
  const state = sqlState(e);
  if (state) {
    return state === "40001" || state === "40P01" // serialization failure, deadlock
      || state.startsWith("08") // connection exception
      || state === "25P03" // the server ended a transaction that waited too long for us (idleTxMs): rolled back, the session closed
      || state === "57P01" || state === "57P02" || state === "57P03" // shutdown, crash, starting up
      || state === "53300" || state === "53400"; // too many connections
  }
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? "");
  return ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOENT", "EAI_AGAIN"].includes(err?.code ?? "")
    || /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Connection ended|socket hang up/i.test(msg);
}

/** True for errors that mean the connection itself is gone (the client must not go back to the pool). */
function broken(e: unknown): boolean {
  return transient(e) && sqlState(e) !== "40001" && sqlState(e) !== "40P01";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Backoff before try `n` (0-based): 25 ms doubling to 1 s, jittered. */
function backoff(n: number): number {
  return Math.min(1000, 25 * 2 ** n) * (0.5 + Math.random());
}

const names = new Map<string, string>();
/** A prepared statement's name for `sql` (the same on every connection). */
export function statementName(sql: string): string {
  let n = names.get(sql);
  if (!n) {
    n = `ct_${createHash("sha1").update(sql).digest("hex").slice(0, 20)}`;
    if (names.size < 1000) names.set(sql, n);
  }
  return n;
}

/** A query function bound to one connection. */
export type Q = <R extends Record<string, any> = Record<string, any>>(sql: string, params?: unknown[]) => Promise<{ rows: R[]; rowCount: number }>;

/**
 * What a transaction body returns: its result, whether to commit (false: roll
 * back, nothing to write), and statements it issued without waiting for them
 * (the connection pipelines: they go out with the COMMIT, in one round trip).
 */
export interface TxOutcome<T> { result: T; commit: boolean; pending?: Array<Promise<unknown>> }

export class Db {
  readonly location: string;
  private poolP?: Promise<Pool>;
  private pool?: Pool;
  private closed = false;
  /** Receipts of commits acknowledged to our callers: no longer needed, deleted with a later commit. */
  private done: string[] = [];
  private lastSweep = 0;

  constructor(readonly url: string) {
    this.location = redact(url);
  }

  /** Connection settings shared by the pool, the listener and lock connections. */
  async config(): Promise<pgTypes.ClientConfig> {
    return {
      connectionString: this.url,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      application_name: "clanker-teams",
      // A host that vanished mid-transaction must not hold row locks past the lease (idleTxMs).
      idle_in_transaction_session_timeout: idleTxMs(),
    };
  }

  /** The pool, created and the schema migrated on first use. */
  async getPool(): Promise<Pool> {
    if (this.closed) throw new TeamsError("IO", `the store for ${this.location} was closed`);
    this.poolP ??= (async () => {
      const pg = await loadPg();
      // pipeline: statements go out without waiting for the previous answer (fewer round trips while rows are locked).
      const pool = new pg.Pool({ ...(await this.config()), pipeline: true, max: 10, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
      // An idle client whose server went away: the next checkout gets a new one.
      pool.on("error", () => {});
      try {
        await ensureSchema(this.url, pool);
      } catch (e) {
        await pool.end().catch(() => {});
        throw e;
      }
      this.pool = pool;
      return pool;
    })().catch((e) => {
      // Not reachable yet: the caller's retry loop (or its next call) tries again.
      this.poolP = undefined;
      throw e;
    });
    return this.poolP;
  }

  /** Runs `fn` again after transient errors, within the retry budget; then an IO error naming what failed. */
  async retry<T>(what: string, fn: () => Promise<T>, nothingSaved = false): Promise<T> {
    const started = Date.now();
    for (let n = 0; ; n++) {
      try {
        return await fn();
      } catch (e) {
        if (!transient(e)) throw this.mapError(e, what, nothingSaved);
        if (Date.now() - started > retryMs() || this.closed) throw this.unreachable(e, what, started, nothingSaved);
        await sleep(backoff(n));
      }
    }
  }

  /** A read: one query on any pooled connection, retried after transient errors. */
  async query<R extends Record<string, any> = Record<string, any>>(what: string, sql: string, params: unknown[] = []): Promise<R[]> {
    return this.retry(what, async () => {
      const pool = await this.getPool();
      const c = guard(await pool.connect());
      let r: pgTypes.QueryResult;
      try {
        cork(c);
        r = await c.query({ name: statementName(sql), text: sql, values: params });
      } catch (e) {
        c.release(broken(e) ? (e as Error) : undefined);
        throw e;
      }
      c.release();
      return r.rows as R[];
    });
  }

  /**
   * Runs `body` in a transaction (READ COMMITTED, row locks taken by the
   * body), retried from the start after transient errors. The connection
   * pipelines: BEGIN goes out with the body's first statement, the body's
   * last statements with the COMMIT. See the file comment for a COMMIT whose
   * answer was lost.
   */
  async tx<T>(what: string, body: (q: Q) => Promise<TxOutcome<T>>): Promise<T> {
    const started = Date.now();
    for (let n = 0; ; n++) {
      let client: PoolClient | undefined;
      let pid: number | undefined;
      const receipt = randomBytes(12).toString("base64url");
      let committing = false;
      let out: TxOutcome<T> | undefined;
      try {
        const pool = await this.getPool();
        client = guard(await pool.connect());
        const c = client;
        // The server process of this connection: to ask about it if the COMMIT's answer is lost.
        pid = (c as unknown as { processID?: number }).processID;
        cork(c);
        const beginQ = c.query("BEGIN");
        beginQ.catch(() => {});
        const q: Q = (sql, params) => {
          // Named: each connection parses and plans a statement once, then only binds it.
          cork(c);
          const p = c.query({ name: statementName(sql), text: sql, values: params }).then((r) => ({ rows: r.rows, rowCount: r.rowCount ?? 0 }));
          // Statements go out without waiting; one the body never awaits (it failed earlier) must not crash the process.
          p.catch(() => {});
          return p;
        };
        out = await body(q);
        for (const p of out.pending ?? []) p.catch(() => {}); // observed below, unless the transaction fails first
        const pending = out.pending ?? [];
        if (!out.commit) {
          await beginQ;
          await Promise.all(pending);
          await c.query("ROLLBACK");
          client.release();
          return out.result;
        }
        committing = true;
        // The receipt, the old receipts' deletion and the COMMIT: one simple query (receipts are base64url: safe as literals).
        let tail = `INSERT INTO ${SCHEMA}.receipts (id) VALUES ('${receipt}');`;
        // Deleted in batches: one DELETE per RECEIPTS_BATCH transactions, not one per transaction.
        const cleared = this.done.length >= RECEIPTS_BATCH ? this.done.splice(0) : [];
        if (cleared.length) tail += `DELETE FROM ${SCHEMA}.receipts WHERE id IN (${cleared.map((r) => `'${r}'`).join(", ")});`;
        if (Date.now() - this.lastSweep > SWEEP_EVERY_MS) {
          this.lastSweep = Date.now();
          tail += `DELETE FROM ${SCHEMA}.receipts WHERE at < clock_timestamp() - interval '1 day';`;
        }
        cork(c);
        const commit = c.query(`${tail}COMMIT`) as unknown as Promise<Array<pgTypes.QueryResult>>;
        const settled = await Promise.allSettled([beginQ, ...pending, commit]);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
        // A statement that failed before it aborts the transaction: the server answers COMMIT with ROLLBACK.
        if ((settled.at(-1) as PromiseFulfilledResult<Array<pgTypes.QueryResult>>).value.at(-1)?.command === "ROLLBACK") {
          throw new TeamsError("IO", `${what}: the database rolled the transaction back; nothing was saved.`, { location: this.location });
        }
        client.release();
        this.done.push(receipt);
        if (this.done.length > RECEIPTS_KEPT) this.done.splice(0, this.done.length - RECEIPTS_KEPT);
        return out.result;
      } catch (e) {
        if (client) {
          if (broken(e)) client.release(e as Error);
          else {
            // The transaction failed (a rule threw, a constraint, a deadlock): roll back and keep the connection.
            try { await client.query("ROLLBACK"); client.release(); } catch (e2) { client.release(e2 as Error); }
          }
        }
        if (committing && broken(e) && pid) {
          const status = await this.commitStatus(pid, receipt, started);
          if (status === "committed") return out!.result;
          if (status === "unknown") {
            throw new TeamsError("IO", `${what}: the connection to ${this.location} was lost while committing and the database could not be asked in time whether the change was saved: it may or may not have been; check before retrying (${(e as Error).message}).`, { location: this.location, ambiguous: true });
          }
          // Aborted: nothing was saved; run it again.
        } else if (!transient(e)) {
          throw this.mapError(e, what, true);
        }
        if (Date.now() - started > retryMs() || this.closed) throw this.unreachable(e, what, started, true);
        await sleep(backoff(n));
      }
    }
  }

  /**
   * Whether the transaction with `receipt`, sent on the connection whose
   * server process was `pid`, committed; asked on a new connection until the
   * retry budget is spent.
   */
  private async commitStatus(pid: number, receipt: string, started: number): Promise<"committed" | "aborted" | "unknown"> {
    const deadline = Math.max(started + retryMs(), Date.now() + 5000);
    for (let n = 0; Date.now() < deadline; n++) {
      try {
        const pool = await this.getPool();
        // First whether the old process is still there (ended, if it sits idle in its transaction: the COMMIT never arrived) …
        const a = await pool.query(
          `SELECT state, CASE WHEN state LIKE 'idle in transaction%' THEN pg_terminate_backend(pid) END AS ended
           FROM pg_stat_activity WHERE pid = $1 AND pid <> pg_backend_pid()`,
          [pid],
        );
        if (!a.rowCount) {
          // … then, in a later statement (a newer snapshot), its receipt: there exactly when it committed.
          const r = await pool.query(`SELECT EXISTS (SELECT 1 FROM ${SCHEMA}.receipts WHERE id = $1) AS r`, [receipt]);
          if (r.rows[0].r) {
            this.done.push(receipt);
            return "committed";
          }
          return "aborted";
        }
        // Still running on the server (our side of the connection went first): wait for it to finish.
      } catch { /* still unreachable */ }
      await sleep(backoff(n));
    }
    return "unknown";
  }

  private unreachable(e: unknown, what: string, started: number, write: boolean): TeamsError {
    const s = Math.round((Date.now() - started) / 1000);
    return new TeamsError("IO", `${what}: cannot reach the database at ${this.location} (${(e as Error).message}); retried for ${s} s.${write ? " Nothing was saved." : ""} Check that the server is up (clanker-teams db doctor).`, { location: this.location });
  }

  /** A server or client error as a TeamsError (TeamsErrors and rule errors pass through). */
  mapError(e: unknown, what: string, write: boolean): Error {
    const state = sqlState(e);
    if (!state) {
      if (e instanceof TeamsError || !(e as NodeJS.ErrnoException)?.code) return e as Error;
      return new TeamsError("IO", `${what}: ${(e as Error).message} (${this.location}).${write ? " Nothing was saved." : ""}`, { location: this.location });
    }
    const msg = (e as Error).message;
    const tail = write ? " Nothing was saved." : "";
    if (state === "28P01" || state === "28000") return new TeamsError("IO", `${what}: the database refused the login (${msg}); check the user and password in CLANKER_TEAMS_DB (${this.location}).`, { location: this.location, sqlState: state });
    if (state === "3D000") return new TeamsError("IO", `${what}: ${msg} at ${this.location}; create it (createdb) or fix CLANKER_TEAMS_DB.`, { location: this.location, sqlState: state });
    if (state === "42501") return new TeamsError("IO", `${what}: permission denied (${msg}); the database user needs the rights \`clanker-teams db doctor\` lists.${tail}`, { location: this.location, sqlState: state });
    if (state === "22P05" || state === "22021") return new TeamsError("INVALID_INPUT", `${what}: ${msg}: PostgreSQL cannot store this text (a NUL character or invalid UTF-8); remove it.${tail}`, { sqlState: state });
    if (state.startsWith("42")) return new TeamsError("IO", `${what}: ${msg}; the database schema is not what this clanker-teams expects: run \`clanker-teams db migrate\`.${tail}`, { location: this.location, sqlState: state });
    return new TeamsError("IO", `${what}: the database refused: ${msg} (SQLSTATE ${state}).${tail}`, { location: this.location, sqlState: state });
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.poolP;
    this.poolP = undefined;
    if (!p) return;
    const cleared = this.done.splice(0);
    try {
      const pool = await p;
      // Best effort: receipts left behind are swept after a day.
      if (cleared.length) await pool.query(`DELETE FROM ${SCHEMA}.receipts WHERE id = ANY($1::text[])`, [cleared]).catch(() => {});
      await pool.end();
    } catch { /* never opened */ }
  }
}
