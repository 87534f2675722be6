/**
 * The storage seam. Everything clanker-teams keeps goes through one TeamStore;
 * the domain (src/domain/) calls nothing else that keeps state. Two
 * implementations: `store/json` (files under $CLANKER_TEAMS_DIR, one machine,
 * the zero-setup default) and `store/pg` (PostgreSQL, agents on many hosts).
 * `test/contract/` states every promise below and runs against both.
 *
 * Rules are pure: the store hands a rule a private copy of the current value;
 * the rule changes the copy and says whether to write it. A rule may run more
 * than once (the JSON store retries when another process wrote first; the
 * PostgreSQL store after a serialization failure), so it must not have side
 * effects beyond its copy and its return value. Events returned by a rule are
 * logged atomically with its write: both happen, or neither.
 *
 * Errors are TeamsError values (src/errors.ts): NOT_FOUND, CONFLICT, LOCKED,
 * CORRUPT (a file that does not parse: moved aside and named), INVALID_INPUT
 * (a file that parses but breaks the schema: named with the field and left in
 * place), IO (the file system or the database refused; a write that failed
 * says so, never silently dropped).
 */
import type { Message, Runtime, Task, TaskSummary, TeamConfig, TeamEvent } from "../schemas.js";

/** An event to log: who did what. The store adds `seq` (gapless, per team) and `time`. */
export interface EventInput {
  actor: string;
  kind: string;
  data: Record<string, unknown>;
}

/** What a rule returns: its result, whether to write the (changed) copy, and events logged with the write. */
export interface Edit<R> {
  value: R;
  write: boolean;
  /** Logged atomically with the write; ignored when write is false. */
  events?: EventInput[];
}

/** The outcome of an edit: the rule's result and the value as stored after it. */
export interface Edited<T, R> {
  value: R;
  current: T;
  written: boolean;
}

/** What a document rule returns: `write` is the new value, `null` deletes, undefined changes nothing. */
export interface DocEdit<T, R> {
  value: R;
  write?: T | null;
  events?: EventInput[];
}

/**
 * A transaction over several tasks of one team (dependency edges). Reads are
 * tracked: if another writer changed a task this transaction read (or, after
 * `list()`, any dependency edge) before it commits, `fn` runs again on the
 * new state. Only transactions change `blocks`/`blockedBy`.
 */
export interface TaskTx {
  /** A private copy of the task, or undefined. */
  get(id: string): Promise<Task | undefined>;
  /** Every task's index row (deleted ones included), by id. */
  list(): Promise<TaskSummary[]>;
  /** Writes the task at commit. */
  put(task: Task): void;
  /**
   * Creates a task at commit. `build` gets its id, which may be provisional:
   * at commit every string equal to it in this transaction's writes, events
   * and in the value `fn` returns is replaced by the final id.
   */
  create(build: (id: string) => Task): Promise<Task>;
  /** Logs an event at commit. */
  event(e: EventInput): void;
}

/** Which tasks an editFirst rule can take at all (see TeamStore.editFirst). */
export interface EditFirstFilter {
  status?: string;
  unowned?: boolean;
}

/** One page of an inbox's history, oldest first; `before` pages back. */
export interface HistoryPage {
  messages: Message[];
  /** Pass as `before` to get the previous page; absent on the first page. */
  nextBefore?: number;
  total: number;
}

export type WatchTopic = "events" | { inbox: string };

export interface TeamStore {
  readonly kind: "json" | "postgres";
  /** Where the data lives, for people: a directory, or a URL without its password. */
  readonly location: string;
  /** Environment a child process (teammate, hook, CLI) needs to open this same store. */
  childEnv(): Record<string, string>;
  /** The store's clock in ms since the epoch: heartbeats and leases are judged by it (the database's clock for PostgreSQL). */
  now(): Promise<number>;

  // ---- teams and members ------------------------------------------------
  /** Names of all teams, sorted. */
  listTeams(): Promise<string[]>;
  /** A team's config; undefined when there is no such team. */
  getTeam(team: string): Promise<TeamConfig | undefined>;
  /** Creates a team; CONFLICT if one of that name exists. A re-created team starts with no tasks, mail or events. */
  createTeam(cfg: TeamConfig, events?: EventInput[]): Promise<void>;
  /** Runs a rule on the config; NOT_FOUND when the team does not exist. */
  editTeam<R>(team: string, rule: (cfg: TeamConfig) => Edit<R>): Promise<Edited<TeamConfig, R>>;
  /** Deletes everything of a team (config, tasks, mail, events, presence, documents). No-op if absent. */
  deleteTeam(team: string): Promise<void>;

  // ---- tasks --------------------------------------------------------------
  /** One task, or undefined. */
  getTask(team: string, id: string): Promise<Task | undefined>;
  /** Every task's index row, deleted ones included, sorted by numeric id. */
  listTasks(team: string): Promise<TaskSummary[]>;
  /**
   * Creates a task with a new id: ids are decimal strings, never reused, even
   * after a crash. `build` may get a provisional id (see TaskTx.create).
   */
  createTask(team: string, build: (id: string) => { task: Task; events?: EventInput[] }): Promise<Task>;
  /** Runs a rule on one task; NOT_FOUND when it does not exist. */
  editTask<R>(team: string, id: string, rule: (t: Task) => Edit<R>): Promise<Edited<Task, R>>;
  /**
   * The work queue: runs `rule` on the first task of `ids` (in that order)
   * for which it returns an edit, skipping tasks another writer is editing
   * right now (PostgreSQL: FOR UPDATE SKIP LOCKED). `rule` returns null for a
   * task that is no candidate. Undefined when no task took the rule.
   * `only` is a promise about the rule: it returns null for every task that
   * does not match (status, and no owner when `unowned`), so the store may
   * skip those without running it (PostgreSQL: in the locking statement).
   */
  editFirst<R>(team: string, ids: string[], rule: (t: Task) => Edit<R> | null, only?: EditFirstFilter): Promise<Edited<Task, R> | undefined>;
  /** A transaction over several tasks; `fn` may run more than once. */
  transact<R>(team: string, fn: (tx: TaskTx) => Promise<R>): Promise<R>;

  // ---- messages -----------------------------------------------------------
  /** Delivers messages (ids unique) with their events; each is delivered exactly once. */
  deliver(team: string, msgs: Message[], events?: EventInput[]): Promise<void>;
  /** An agent's unread messages, oldest first. */
  unread(team: string, agent: string): Promise<Message[]>;
  /** How many unread messages an agent has (cheap). */
  unreadCount(team: string, agent: string): Promise<number>;
  /**
   * Marks messages read and returns those this call marked (each message is
   * returned by exactly one call, whatever runs concurrently). "all": every
   * message unread when the call starts. When it marks any, it logs
   * `message.read` {agent, count, ids (the last 50)} as `actor`, atomically.
   */
  markRead(team: string, agent: string, ids: string[] | "all", actor: string): Promise<Message[]>;
  /** An inbox's whole history (read and unread), oldest first, paged back from the newest. */
  history(team: string, agent: string, opts?: { before?: number; limit?: number }): Promise<HistoryPage>;

  // ---- the event log -------------------------------------------------------
  /** Logs events; seq is gapless and strictly increasing per team, in commit order. */
  appendEvents(team: string, events: EventInput[]): Promise<void>;
  /** Events with seq > afterSeq, oldest first (at most `limit`). Every acknowledged event is there. */
  readEvents(team: string, afterSeq?: number, limit?: number): Promise<TeamEvent[]>;

  // ---- presence ------------------------------------------------------------
  getPresence(team: string, agent: string): Promise<Runtime | undefined>;
  listPresence(team: string): Promise<Runtime[]>;
  /**
   * Merges `patch` into an agent's presence (creating it) and stamps
   * `heartbeatAt` with the store's clock unless `patch` sets it.
   */
  putPresence(team: string, agent: string, patch: Partial<Runtime>): Promise<Runtime>;
  removePresence(team: string, agent: string): Promise<void>;
  /**
   * Optional, synchronous, best effort: merges `patch` into an agent's presence
   * from a process `exit` handler (where nothing asynchronous runs). Stores
   * that cannot (PostgreSQL) leave it out; the pid check and the lease cover it.
   */
  presenceOnExit?(team: string, agent: string, patch: Partial<Runtime>): void;

  // ---- documents: small keyed JSON values (reservations, milestones, votes) --
  getDoc<T>(team: string, coll: string, key: string): Promise<T | undefined>;
  listDocs<T>(team: string, coll: string): Promise<Array<{ key: string; value: T }>>;
  /** Runs a rule on one document (undefined when absent) atomically with its events. */
  editDoc<T, R>(team: string, coll: string, key: string, rule: (cur: T | undefined) => DocEdit<T, R>): Promise<R>;

  // ---- locks and change notification -------------------------------------------
  /**
   * Runs `fn` holding a named lock of the team (e.g. spawning one name),
   * across processes and hosts. A dead holder's lock is taken over (JSON: within
   * 5 s; PostgreSQL: when its connection drops). LOCKED after waiting too long.
   */
  withLock<T>(team: string, name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `onChange` (soon, possibly more than once, never for nothing for long)
   * after a change to a topic: the team's events, or one inbox. Returns unwatch.
   */
  watch(team: string, topic: WatchTopic, onChange: () => void): () => void;

  /** Brings derived files up to date now (JSON: the documented files; PostgreSQL: nothing). */
  flush(): Promise<void>;
  /** Releases connections, watchers and timers. */
  close(): Promise<void>;
}

/** How a store is chosen: CLANKER_TEAMS_DB (postgres://…) selects PostgreSQL, else the JSON files in dataDir. */
export interface StoreOptions {
  dataDir?: string;
  db?: string;
  /** Injectable clock for the JSON store (tests of heartbeats and leases). */
  now?: () => number;
}
