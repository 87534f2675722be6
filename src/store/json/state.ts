/**
 * A team's state as the JSON store's log makes it: tasks, inboxes, documents,
 * counters. `apply` is the one place that decides what a log record does; it
 * is deterministic (it reads only the state and the record), so every process
 * that replays the same log bytes reaches the same state, and a snapshot
 * carries everything later records are judged by.
 *
 * Optimistic concurrency: a record that changes a task (or document) carries
 * `base`, the log position (lsn) its writer read the state at; it applies only
 * if what it read was not changed after that position, else it is refused and
 * its writer runs its rule again on the new state.
 */
import type { Message, Task, TaskSummary, TeamEvent } from "../../schemas.js";
import type { EventInput } from "../types.js";

/** Task ids a record creates are written as these tokens; the record's position gives the real ids. */
export const NEW_ID_PREFIX = "\u0000new:";

export interface TaskEntry { v: number; task: Task; row: TaskSummary }
export interface DocEntry { v: number; value: unknown }
export interface InboxState { v: number; msgs: Message[]; unread: number }

export type Rec = { n: string; t: string; base?: number } & (
  | { op: "create"; task: Task; ev?: EventInput[] }
  | { op: "edit"; id: string; task: Task; ev?: EventInput[] }
  | { op: "tx"; reads: string[]; all?: boolean; puts: Task[]; creates: Task[]; ev?: EventInput[] }
  | { op: "msg"; msgs: Message[]; ev?: EventInput[] }
  | { op: "read"; agent: string; ids: string[]; actor: string }
  | { op: "doc"; coll: string; key: string; value: unknown; del?: boolean; ev?: EventInput[] }
  | { op: "ev"; ev: EventInput[] }
);

export interface Outcome {
  ok: boolean;
  /** Ids of the tasks the record created, in order. */
  ids?: string[];
  /** Messages a read record marked read. */
  marked?: Message[];
}

/** The index row of a task. */
export function summaryOf(t: Task): TaskSummary {
  const s: TaskSummary = { id: t.id, subject: t.subject, status: t.status, blockedBy: t.blockedBy, blocks: t.blocks, createdAt: t.createdAt };
  if (t.owner) s.owner = t.owner;
  return s;
}

/** Replaces every string equal to a key of `map` (deep); other values are kept as they are. */
export function replaceIds<T>(v: T, map: Map<string, string>): T {
  if (!map.size) return v;
  const walk = (x: unknown): unknown => {
    if (typeof x === "string") return map.get(x) ?? x;
    if (Array.isArray(x)) return x.map(walk);
    // fromEntries defines own properties: a key "__proto__" stays a key.
    if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, walk(val)]));
    return x;
  };
  return walk(v) as T;
}

export class TeamState {
  /** Records applied (valid or refused): the log position the state is at. */
  lsn = 0;
  nextId = 1;
  eventSeq = 0;
  /** lsn of the last transaction (the only writer of dependency edges). */
  edgeV = 0;
  tasks = new Map<string, TaskEntry>();
  inboxes = new Map<string, InboxState>();
  docs = new Map<string, Map<string, DocEntry>>();
  /** Events applied since this state was loaded; older ones are in events.jsonl. */
  events: TeamEvent[] = [];
  /** seq of the first event this state holds in `events` would have. */
  firstSeq = 1;

  inbox(agent: string): InboxState {
    let b = this.inboxes.get(agent);
    if (!b) { b = { v: 0, msgs: [], unread: 0 }; this.inboxes.set(agent, b); }
    return b;
  }

  doc(coll: string, key: string): DocEntry | undefined {
    return this.docs.get(coll)?.get(key);
  }

  /** Applies one record; returns its outcome. */
  apply(r: Rec): Outcome {
    const lsn = ++this.lsn;
    const base = typeof r.base === "number" ? r.base : -1;
    switch (r.op) {
      case "create": {
        const map = new Map<string, string>();
        const id = String(this.nextId++);
        map.set(`${NEW_ID_PREFIX}0`, id);
        const task = replaceIds(r.task, map);
        task.id = id;
        this.putTask(task, lsn);
        this.log(r, replaceIds(r.ev, map));
        return { ok: true, ids: [id] };
      }
      case "edit": {
        const cur = this.tasks.get(r.id);
        if (!cur || cur.v > base) return { ok: false };
        this.putTask(r.task, lsn);
        this.log(r, r.ev);
        return { ok: true };
      }
      case "tx": {
        for (const id of r.reads) if ((this.tasks.get(id)?.v ?? 0) > base) return { ok: false };
        if (r.all && this.edgeV > base) return { ok: false };
        for (const t of r.puts) if (!this.tasks.has(t.id) || !r.reads.includes(t.id)) return { ok: false };
        const map = new Map<string, string>();
        r.creates.forEach((_, i) => map.set(`${NEW_ID_PREFIX}${i}`, String(this.nextId++)));
        for (const t of r.creates) this.putTask(replaceIds(t, map), lsn);
        for (const t of r.puts) this.putTask(replaceIds(t, map), lsn);
        this.edgeV = lsn;
        this.log(r, replaceIds(r.ev, map));
        return { ok: true, ids: [...map.values()] };
      }
      case "msg": {
        for (const m of r.msgs) {
          const b = this.inbox(m.to);
          b.msgs.push(m);
          if (!m.read) b.unread++;
          b.v = lsn;
        }
        this.log(r, r.ev);
        return { ok: true };
      }
      case "read": {
        const b = this.inboxes.get(r.agent);
        const marked: Message[] = [];
        if (b && b.unread > 0) {
          const want = new Set(r.ids);
          for (const m of b.msgs) {
            if (!m.read && want.has(m.id)) {
              m.read = true;
              marked.push(m);
            }
          }
          if (marked.length) {
            b.unread -= marked.length;
            b.v = lsn;
            this.log(r, [{ actor: r.actor, kind: "message.read", data: { agent: r.agent, count: marked.length, ids: marked.slice(-50).map((m) => m.id) } }]);
          }
        }
        return { ok: true, marked };
      }
      case "doc": {
        const cur = this.doc(r.coll, r.key);
        if ((cur?.v ?? 0) > base) return { ok: false };
        let coll = this.docs.get(r.coll);
        if (!coll) { coll = new Map(); this.docs.set(r.coll, coll); }
        // A deleted document keeps its version (a tombstone), so a writer that read it before cannot bring it back.
        coll.set(r.key, { v: lsn, value: r.del ? undefined : r.value });
        this.log(r, r.ev);
        return { ok: true };
      }
      case "ev": {
        this.log(r, r.ev);
        return { ok: true };
      }
      default:
        return { ok: false };
    }
  }

  private putTask(task: Task, lsn: number): void {
    this.tasks.set(task.id, { v: lsn, task, row: summaryOf(task) });
    const n = Number(task.id);
    if (n >= this.nextId) this.nextId = n + 1;
  }

  private log(r: Rec, evs: EventInput[] | undefined): void {
    if (!evs) return;
    evs.forEach((e, i) => {
      this.events.push({ seq: ++this.eventSeq, time: r.t, actor: e.actor, kind: e.kind, data: e.data ?? {}, id: evs.length > 1 ? `${r.n}.${i}` : r.n });
    });
  }

  /** Events with seq > after held in memory (see firstSeq). */
  eventsAfter(after: number, limit = Infinity): TeamEvent[] {
    const start = Math.max(0, after + 1 - this.firstSeq);
    return this.events.slice(start, start + Math.min(limit, this.events.length));
  }

  // ---- snapshots ---------------------------------------------------------

  /** Everything later records are judged by, as JSON (events and archived messages excluded). */
  toSnapshot(keepRead: (agent: string, msgs: Message[]) => Message[]): SnapshotState {
    // Prototype-less: keys are names and ids ("__proto__" is a valid member name).
    const tasks: Record<string, { v: number; task: Task }> = Object.create(null);
    for (const [id, e] of this.tasks) tasks[id] = { v: e.v, task: e.task };
    const inboxes: Record<string, { v: number; msgs: Message[] }> = Object.create(null);
    for (const [agent, b] of this.inboxes) inboxes[agent] = { v: b.v, msgs: keepRead(agent, b.msgs) };
    const docs: Record<string, Record<string, DocEntry>> = Object.create(null);
    for (const [coll, m] of this.docs) {
      const o: Record<string, DocEntry> = Object.create(null);
      for (const [k, e] of m) o[k] = e;
      docs[coll] = o;
    }
    return { lsn: this.lsn, nextId: this.nextId, eventSeq: this.eventSeq, edgeV: this.edgeV, tasks, inboxes, docs };
  }

  static fromSnapshot(s: SnapshotState): TeamState {
    const st = new TeamState();
    st.lsn = s.lsn;
    st.nextId = s.nextId;
    st.eventSeq = s.eventSeq;
    st.firstSeq = s.eventSeq + 1;
    st.edgeV = s.edgeV;
    for (const [id, e] of Object.entries(s.tasks)) st.tasks.set(id, { v: e.v, task: e.task, row: summaryOf(e.task) });
    for (const [agent, b] of Object.entries(s.inboxes)) st.inboxes.set(agent, { v: b.v, msgs: b.msgs, unread: b.msgs.filter((m) => !m.read).length });
    for (const [coll, o] of Object.entries(s.docs)) st.docs.set(coll, new Map(Object.entries(o)));
    return st;
  }
}

export interface SnapshotState {
  lsn: number;
  nextId: number;
  eventSeq: number;
  edgeV: number;
  tasks: Record<string, { v: number; task: Task }>;
  inboxes: Record<string, { v: number; msgs: Message[] }>;
  docs: Record<string, Record<string, DocEntry>>;
}
