/**
 * A team's live feed: one per team with open pages, shared by them. It keeps
 * the team's view in memory and sends each page only what changed, as
 * server-sent events. A change is noticed by the store's change notification
 * (`store.watch(team, "events")`: another process's write on either store)
 * and by a check every second (presence has no events: heartbeats, a process
 * that died, and liveness judged by the store's clock).
 */
import { randomBytes } from "node:crypto";
import type { Ctx } from "../../context.js";
import { visible } from "../../text/safe.js";
import type { TeamConfig, TeamEvent } from "../../schemas.js";
import { docsView, membersView, readAllTasks, taskView, teamInfo, type DocsView, type MemberView, type TaskView } from "./view.js";

/** Events a page gets at first: a screenful or ten (older ones it pages in on request). */
export const FIRST_EVENTS = 100;
/** How often presence, liveness and documents are checked. */
export const CHECK_MS = 1000;

/** Sends one server-sent event to one page. */
export type Send = (event: string, data: unknown) => void;

/** Task ids an event names (data.id, data.ids, data.taskId, data.by). */
function taskIdsOf(e: TeamEvent): string[] {
  const d = e.data ?? {};
  const out: string[] = [];
  for (const k of ["id", "taskId", "by"]) if (typeof d[k] === "string" && /^\d+$/.test(d[k] as string)) out.push(d[k] as string);
  for (const k of ["ids", "ready"]) if (Array.isArray(d[k])) for (const x of d[k] as unknown[]) if (typeof x === "string" && /^\d+$/.test(x)) out.push(x);
  return out;
}

/** Members whose inbox an event changed (message.* events: to, from, agent). */
function mailOf(e: TeamEvent): string[] {
  if (!e.kind.startsWith("message.")) return [];
  const d = e.data ?? {};
  const out: string[] = [];
  for (const k of ["to", "agent"]) {
    const v = d[k];
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === "string") out.push(x);
  }
  return out;
}

export class TeamFeed {
  private readonly subs = new Set<Send>();
  private cfg?: TeamConfig;
  private tasks = new Map<string, TaskView>();
  private rowKeys = new Map<string, string>();
  private members: MemberView[] = [];
  private membersKey = "";
  private docs: DocsView = {};
  private docsKey = "";
  private events: TeamEvent[] = [];
  private lastSeq = 0;
  private running = false;
  private again = false;
  private closed = false;
  private unwatch?: () => void;
  private timer?: NodeJS.Timeout;
  private lastProblem = "";
  /** The store's clock minus this process's (heartbeats are stamped by the store's clock). */
  private offset = 0;
  /** Counts what was broadcast: a page that has the snapshot of this version needs no new one. */
  private version = 0;
  /** Makes versions unique across feeds: a feed made again for the team starts counting again. */
  private readonly epoch = randomBytes(6).toString("base64url");
  /** Resolves when the first load is done (subscribers wait for it). */
  readonly ready: Promise<void>;

  constructor(private readonly ctx: Ctx, readonly team: string, private readonly onEmpty: (feed: TeamFeed) => void = () => undefined) {
    this.ready = this.load().then(() => {
      // A team that does not exist is not watched (the page gets a 404; watching could make its directories).
      if (this.closed || !this.cfg) return;
      this.unwatch = ctx.store.watch(team, "events", () => this.kick());
      this.timer = setInterval(() => this.kick(), CHECK_MS);
      this.timer.unref();
    });
  }

  /** True when the team does not exist (any more). */
  get gone(): boolean {
    return !this.cfg;
  }

  private async load(): Promise<void> {
    const store = this.ctx.store;
    this.cfg = await store.getTeam(this.team);
    if (!this.cfg) return;
    const rows = await store.listTasks(this.team);
    this.rowKeys = new Map(rows.map((r) => [r.id, JSON.stringify(r)]));
    this.tasks = await readAllTasks(this.ctx, this.team, rows);
    const all = await store.readEvents(this.team, 0);
    this.lastSeq = all.at(-1)?.seq ?? 0;
    this.events = all.slice(-FIRST_EVENTS);
    this.members = await membersView(this.ctx, this.team, this.cfg, this.tasks, await this.storeNow());
    this.membersKey = JSON.stringify(this.members);
    this.docs = await docsView(this.ctx, this.team);
    this.docsKey = JSON.stringify(this.docs);
  }

  private async storeNow(): Promise<number> {
    const now = await this.ctx.store.now();
    this.offset = now - Date.now();
    return now;
  }

  /** Pages subscribed now. */
  get subscribers(): number {
    return this.subs.size;
  }

  /** Everything a page needs to draw the team at once. */
  snapshot() {
    return {
      version: `${this.epoch}.${this.version}`,
      serverNow: Date.now() + this.offset,
      team: this.cfg ? teamInfo(this.cfg, this.ctx.actor) : null,
      members: this.members,
      tasks: [...this.tasks.values()],
      events: this.events,
      lastSeq: this.lastSeq,
      docs: this.docs,
    };
  }

  /**
   * Adds a page: it gets the snapshot now (or "current" when it has the one of
   * version `seen`, embedded in the page) and every change after. Returns its unsubscribe.
   */
  subscribe(send: Send, seen?: string): () => void {
    this.subs.add(send);
    if (seen === `${this.epoch}.${this.version}`) send("current", { version: seen });
    else send("snapshot", this.snapshot());
    return () => {
      this.subs.delete(send);
      if (!this.subs.size) this.onEmpty(this);
    };
  }

  private broadcast(event: string, data: unknown): void {
    this.version++;
    for (const s of [...this.subs]) s(event, data);
  }

  /** Runs a refresh now, or once more after the running one (never two at once). */
  kick(): void {
    if (this.closed) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          await this.refresh();
        } while (this.again && !this.closed);
        this.problem("");
      } catch (e) {
        this.problem((e as Error).message);
      } finally {
        this.running = false;
      }
    })();
  }

  /** Tells the pages the store cannot be read (once per distinct error), or that it can again. */
  private problem(msg: string): void {
    if (msg === this.lastProblem) return;
    this.lastProblem = msg;
    // The person who started the dashboard sees it too (once per distinct error).
    process.stderr.write(msg ? `dashboard: cannot read team ${visible(this.team)}: ${visible(msg)}\n` : `dashboard: team ${visible(this.team)} can be read again\n`);
    this.broadcast("problem", { error: msg || null });
  }

  private async refresh(): Promise<void> {
    const store = this.ctx.store;
    const cfg = await store.getTeam(this.team);
    if (!cfg) {
      if (this.cfg) { this.cfg = undefined; this.broadcast("gone", { team: this.team }); }
      return;
    }
    if (!this.cfg || cfg.createdAt !== this.cfg.createdAt) {
      // Created (again) since: its tasks, mail and events start over.
      await this.load();
      this.broadcast("snapshot", this.snapshot());
      return;
    }
    const update: Record<string, unknown> = {};
    const cfgChanged = JSON.stringify(cfg) !== JSON.stringify(this.cfg);
    this.cfg = cfg;
    if (cfgChanged) update.team = teamInfo(cfg, this.ctx.actor);

    const fresh = await store.readEvents(this.team, this.lastSeq);
    const touched = new Set<string>();
    const mail = new Set<string>();
    for (const e of fresh) {
      for (const id of taskIdsOf(e)) touched.add(id);
      for (const a of mailOf(e)) mail.add(a);
    }
    if (fresh.length) {
      this.lastSeq = fresh.at(-1)!.seq;
      this.events = this.events.concat(fresh).slice(-FIRST_EVENTS);
      update.events = fresh;
    }

    const rows = await store.listTasks(this.team);
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.id);
      const key = JSON.stringify(r);
      if (this.rowKeys.get(r.id) !== key) { touched.add(r.id); this.rowKeys.set(r.id, key); }
    }
    const removed = [...this.rowKeys.keys()].filter((id) => !seen.has(id));
    for (const id of removed) { this.rowKeys.delete(id); this.tasks.delete(id); }
    const changed: TaskView[] = [];
    const fetched = await Promise.all([...touched].filter((id) => seen.has(id)).map((id) => store.getTask(this.team, id)));
    for (const t of fetched) {
      if (!t) continue;
      const v = taskView(t);
      if (JSON.stringify(v) !== JSON.stringify(this.tasks.get(t.id))) { this.tasks.set(t.id, v); changed.push(v); }
    }
    if (changed.length) update.tasks = changed;
    if (removed.length) update.removed = removed;

    const members = await membersView(this.ctx, this.team, cfg, this.tasks, await this.storeNow());
    const mk = JSON.stringify(members);
    if (mk !== this.membersKey) { this.members = members; this.membersKey = mk; update.members = members; }

    const docs = await docsView(this.ctx, this.team);
    const dk = JSON.stringify(docs);
    if (dk !== this.docsKey) { this.docs = docs; this.docsKey = dk; update.docs = docs; }

    if (mail.size) update.mail = [...mail];
    if (Object.keys(update).length) this.broadcast("update", { ...update, serverNow: Date.now() + this.offset });
  }

  /** Stops watching; pages still open are left to the server to end. */
  close(): void {
    this.closed = true;
    this.unwatch?.();
    if (this.timer) clearInterval(this.timer);
  }
}
