/**
 * Change notification for one store: one connection LISTENs on the
 * `clanker_teams` channel (triggers NOTIFY at commit, whoever wrote: another
 * process, another host) and calls the watchers of the team and topic.
 *
 * While that connection is down (server restart, network cut) it is
 * reconnected with backoff and the watched topics are polled every second
 * through the pool; once listening again every watcher is called once, since
 * a change may have been missed in between. A watcher registered before the
 * first LISTEN is called once when it is in place, for the same reason.
 */
import { loadPg, type Client, type Db } from "./conn.js";
import { CHANNEL, SCHEMA } from "./schema.js";
import type { WatchTopic } from "../types.js";

const POLL_MS = 1000;

interface Watcher { cb: () => void; team: string; topic: WatchTopic; version?: string }

function key(team: string, topic: WatchTopic): string {
  return topic === "events" ? `${team}\u0000events` : `${team}\u0000inbox\u0000${topic.inbox}`;
}

export class Listener {
  private watchers = new Map<string, Set<Watcher>>();
  private client?: Client;
  private listening = false;
  private connecting = false;
  private closed = false;
  private attempts = 0;
  private retryTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  /** Watchers added while not listening: called once when LISTEN is in place. */
  private pending = new Set<Watcher>();

  constructor(private db: Db) {}

  /** Registers a watcher; returns unwatch. */
  add(team: string, topic: WatchTopic, cb: () => void): () => void {
    const w: Watcher = { cb, team, topic };
    const k = key(team, topic);
    let set = this.watchers.get(k);
    if (!set) { set = new Set(); this.watchers.set(k, set); }
    set.add(w);
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = undefined; }
    if (!this.listening) this.pending.add(w);
    this.ref(true);
    this.connect();
    return () => {
      set!.delete(w);
      this.pending.delete(w);
      if (!set!.size) this.watchers.delete(k);
      if (!this.watchers.size) this.idle();
    };
  }

  private count(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  /** No watchers left: let the process exit, and close the connection soon unless one comes back. */
  private idle(): void {
    this.ref(false);
    this.stopPolling();
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.count()) this.drop();
    }, 2000);
    this.idleTimer.unref();
  }

  /** Keeps the process alive for the listening socket only while someone watches. */
  private ref(on: boolean): void {
    const c = this.client as unknown as { ref?(): void; unref?(): void } | undefined;
    try { if (on) c?.ref?.(); else c?.unref?.(); } catch { /* not connected */ }
  }

  private async connect(): Promise<void> {
    if (this.client || this.connecting || this.closed || !this.count()) return;
    this.connecting = true;
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = undefined; }
    let c: Client | undefined;
    try {
      await this.db.getPool(); // the schema (and its triggers) exist before we listen
      const pg = await loadPg();
      c = new pg.Client(await this.db.config());
      c.on("error", () => this.lost(c!));
      c.on("end", () => this.lost(c!));
      c.on("notification", (n) => this.notified(n.payload));
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      if (this.closed || !this.count()) { await c.end().catch(() => {}); return; }
      this.client = c;
      this.listening = true;
      this.attempts = 0;
      this.stopPolling();
      if (!this.count()) this.ref(false);
      // Anything may have changed before LISTEN was in place (first watch, or while we were cut off).
      const due = [...this.pending];
      this.pending.clear();
      for (const w of due) this.fire(w);
    } catch {
      try { await c?.end(); } catch { /* already gone */ }
      this.scheduleRetry();
    } finally {
      this.connecting = false;
    }
  }

  private lost(c: Client): void {
    if (this.client !== c) return;
    this.client = undefined;
    this.listening = false;
    c.end().catch(() => {});
    if (this.closed || !this.count()) return;
    for (const set of this.watchers.values()) for (const w of set) { this.pending.add(w); w.version = undefined; }
    this.startPolling();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer || !this.count()) return;
    this.startPolling();
    const ms = Math.min(5000, 100 * 2 ** this.attempts++) * (0.5 + Math.random());
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.connect(); }, ms);
    this.retryTimer.unref();
  }

  private notified(payload: string | undefined): void {
    let p: { team?: string; topic?: string; agent?: string };
    try { p = JSON.parse(payload ?? ""); } catch { return; }
    if (typeof p.team !== "string") return;
    const k = p.topic === "events" ? key(p.team, "events") : p.topic === "inbox" && typeof p.agent === "string" ? key(p.team, { inbox: p.agent }) : undefined;
    if (!k) return;
    for (const w of [...(this.watchers.get(k) ?? [])]) this.fire(w);
  }

  private fire(w: Watcher): void {
    try { w.cb(); } catch { /* a watcher's error is its own */ }
  }

  // ---- the poll fallback -------------------------------------------------------

  private startPolling(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setInterval(() => { void this.poll(); }, POLL_MS);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private polling = false;
  private async poll(): Promise<void> {
    if (this.polling || this.listening) return;
    this.polling = true;
    try {
      for (const set of [...this.watchers.values()]) {
        const first = [...set][0];
        if (!first) continue;
        let v: string;
        try {
          v = await this.version(first.team, first.topic);
        } catch {
          return; // the database is unreachable too: the next round tries again
        }
        for (const w of set) {
          const was = w.version;
          w.version = v;
          // A first reading after the connection dropped: something may have changed meanwhile.
          if (was === undefined ? this.pending.delete(w) : was !== v) this.fire(w);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  /** A value that changes whenever the topic does. */
  private async version(team: string, topic: WatchTopic): Promise<string> {
    if (topic === "events") {
      const r = await this.db.query<{ v: string }>("poll events", `SELECT coalesce((SELECT event_seq FROM ${SCHEMA}.counters WHERE team = $1), -1)::text AS v`, [team]);
      return r[0].v;
    }
    const r = await this.db.query<{ v: string }>("poll inbox", `SELECT coalesce(max(pos), 0)::text || ':' || count(*) FILTER (WHERE NOT read)::text AS v FROM ${SCHEMA}.messages WHERE team = $1 AND agent = $2`, [team, topic.inbox]);
    return r[0].v;
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    this.listening = false;
    if (c) c.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    this.pending.clear();
    this.stopPolling();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const c = this.client;
    this.client = undefined;
    this.listening = false;
    if (c) await c.end().catch(() => {});
  }
}
