/**
 * The JSON store: TeamStore over plain files under the data directory (the
 * embedded default). Team configs and presence are JSON files changed under a
 * short lock; tasks, mail, documents and events go through the team's log
 * (log.ts): one fdatasync'd append per operation, no lock. The documented
 * files are derived from the log (materialize.ts). See docs/storage.md.
 */
import fs from "node:fs";
import path from "node:path";
import { TeamsError } from "../../errors.js";
import { RuntimeSchema, TeamConfigSchema, parseWith, type Message, type Runtime, type Task, type TaskSummary, type TeamConfig, type TeamEvent } from "../../schemas.js";
import type { DocEdit, Edit, Edited, EventInput, HistoryPage, StoreOptions, TaskTx, TeamStore, WatchTopic } from "../types.js";
import { checkRoot, ensureDir, forgetDirs, ioError, parseJsonFile, readJson, readText, removeTree, writeAtomic } from "./files.js";
import { Layout } from "./layout.js";
import { lockHeld, tryLockSync, withLock } from "./lock.js";
import { TeamLog, type Body, type LogHost } from "./log.js";
import { importLegacy } from "./legacy.js";
import { FLUSH_MS, materialize, readJsonLines, readMark } from "./materialize.js";
import { NEW_ID_PREFIX, replaceIds, summaryOf, type TeamState } from "./state.js";

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
const byId = (a: TaskSummary, b: TaskSummary) => Number(a.id) - Number(b.id);

function checkConfig(v: unknown): TeamConfig {
  return parseWith(TeamConfigSchema, v, "team config");
}

function notFound(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" does not exist.`, { team });
}

/** One per data directory per process: the logs' cached states, timers, config cache. */
class Engine implements LogHost {
  readonly layout: Layout;
  private logs = new Map<string, TeamLog>();
  private flushTimers = new Map<string, NodeJS.Timeout>();
  private dirty = new Set<string>();
  private configCache = new Map<string, { key: string; text: string }>();

  constructor(readonly root: string) {
    this.layout = new Layout(root);
  }

  log(team: string): TeamLog {
    let l = this.logs.get(team);
    if (!l) { l = new TeamLog(this, team); this.logs.set(team, l); }
    return l;
  }

  /** The config's text while it is the version last read (one lstat: every write is a rename). */
  readConfig(team: string): TeamConfig | undefined {
    const file = this.layout.teamConfig(team);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(file, { bigint: true });
    } catch (e) {
      this.configCache.delete(team);
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(`cannot read ${file}`, e);
    }
    if (st.isSymbolicLink()) throw ioError(`cannot read ${file}`, Object.assign(new Error("symbolic link"), { code: "ELOOP" }));
    const key = `${st.dev}/${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
    const hit = this.configCache.get(team);
    if (hit && hit.key === key) return JSON.parse(hit.text) as TeamConfig;
    const text = readText(file);
    if (text === undefined) return undefined;
    const cfg = parseJsonFile(file, text, checkConfig);
    if (Buffer.byteLength(text) === Number(st.size)) this.configCache.set(team, { key, text: JSON.stringify(cfg) });
    return cfg;
  }

  changed(log: TeamLog): void {
    this.dirty.add(log.team);
    if (this.flushTimers.has(log.team)) return;
    const t = setTimeout(() => {
      this.flushTimers.delete(log.team);
      this.flushTeam(log.team, false);
    }, FLUSH_MS);
    t.unref();
    this.flushTimers.set(log.team, t);
  }

  /** Writes the documented files of a team if they lag (unless another process is writing them right now). */
  flushTeam(team: string, wait: boolean): void {
    const log = this.logs.get(team);
    if (!log) return;
    const lockFile = this.layout.materializeLock(team);
    const run = () => {
      if (!fs.existsSync(this.layout.teamConfig(team))) return; // deleted: never bring its files back
      log.catchUp();
      const mark = readMark(this.layout, team);
      if (mark && mark.lsn >= log.state.lsn) return;
      // Someone wrote them moments ago: leave the rest to the next round (at most FLUSH_MS late).
      if (!wait && mark && Date.now() - mark.at < FLUSH_MS / 2) return "later";
      materialize(this.root, this.layout, team, log.state, Date.now());
    };
    for (let i = 0; ; i++) {
      let r: { value: "later" | undefined } | undefined;
      try {
        r = tryLockSync(this.root, lockFile, run);
      } catch (e) {
        // The log has the change; only the documented files lag. An explicit flush says why; a background one warns once.
        if (wait) throw e;
        if (!this.flushWarned.has(team)) {
          this.flushWarned.add(team);
          process.emitWarning(`clanker-teams: the files of team "${team}" could not be brought up to date (the change itself is saved): ${(e as Error).message}`);
        }
        return;
      }
      if (r?.value === "later") { this.changed(log); return; }
      if (r) { this.dirty.delete(team); return; }
      // Busy: the holder may have caught up before our last change. Try again later (or spin briefly when asked to wait).
      if (!wait || i > 400) { this.changed(log); return; }
      sleepSync(5);
    }
  }

  rotate(log: TeamLog): void {
    try {
      tryLockSync(this.root, this.layout.materializeLock(log.team), () => {
        if (!log.closeSegmentLocked()) return;
        const archived = materialize(this.root, this.layout, log.team, log.state, Date.now(), { all: true, durable: true });
        log.writeSnapshot(log.state.toSnapshot((agent, msgs) => msgs.slice(archived.get(agent) ?? 0)));
      });
    } catch (e) {
      // Rotation is housekeeping: the change that triggered it is committed. Say why once.
      if (!this.rotateWarned) { this.rotateWarned = true; process.emitWarning(`clanker-teams: could not rotate the log of team "${log.team}": ${(e as Error).message}`); }
    }
  }
  private rotateWarned = false;
  private flushWarned = new Set<string>();

  importLegacy(log: TeamLog): void {
    importLegacy(this, log);
  }

  /** Brings every team this process changed up to date on disk (exit, flush()); the first error is thrown after trying all. */
  flushAll(): void {
    for (const t of this.flushTimers.values()) clearTimeout(t);
    this.flushTimers.clear();
    let first: unknown;
    for (const team of [...this.dirty]) {
      try { this.flushTeam(team, true); } catch (e) { first ??= e; }
    }
    if (first) throw first;
  }

  /**
   * Once per team per process: if the documented files lag behind the log (the
   * process that made the change was killed before writing them), write them soon.
   */
  checkFiles(log: TeamLog): void {
    if (this.filesChecked.has(log.team)) return;
    this.filesChecked.add(log.team);
    if ((readMark(this.layout, log.team)?.lsn ?? 0) < log.state.lsn) this.changed(log);
  }
  private filesChecked = new Set<string>();

  forget(team: string): void {
    this.filesChecked.delete(team);
    this.logs.get(team)?.close();
    this.logs.delete(team);
    this.dirty.delete(team);
    const t = this.flushTimers.get(team);
    if (t) clearTimeout(t);
    this.flushTimers.delete(team);
    this.configCache.delete(team);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

const engines = new Map<string, Engine>();
let exitHook = false;

function engineFor(root: string): Engine {
  let e = engines.get(root);
  if (!e) {
    e = new Engine(root);
    engines.set(root, e);
  }
  if (!exitHook) {
    exitHook = true;
    // Short-lived processes (the CLI) leave the documented files current.
    process.once("exit", () => { for (const eng of engines.values()) try { eng.flushAll(); } catch { /* best effort */ } });
  }
  return e;
}

/** A transaction over the log's in-memory state (see TaskTx). */
class JsonTx implements TaskTx {
  readonly reads = new Set<string>();
  all = false;
  private loaded = new Map<string, Task>();
  private dirty = new Set<string>();
  readonly creates: Task[] = [];
  readonly events: EventInput[] = [];
  constructor(private st: TeamState) {}

  async get(id: string): Promise<Task | undefined> {
    const have = this.loaded.get(id);
    if (have) return have;
    this.reads.add(id);
    const e = this.st.tasks.get(id);
    if (!e) return undefined;
    const t = clone(e.task);
    this.loaded.set(id, t);
    return t;
  }

  async list(): Promise<TaskSummary[]> {
    this.all = true;
    const rows = new Map<string, TaskSummary>();
    for (const [id, e] of this.st.tasks) rows.set(id, e.row);
    for (const [id, t] of this.loaded) rows.set(id, summaryOf(t));
    return [...rows.values()].map((r) => ({ ...r, blockedBy: [...r.blockedBy], blocks: [...r.blocks] })).sort(byId);
  }

  put(task: Task): void {
    this.loaded.set(task.id, task);
    if (!task.id.startsWith(NEW_ID_PREFIX)) this.dirty.add(task.id);
    else {
      // A task created in this transaction: the object put is the one to write.
      const i = this.creates.findIndex((t) => t.id === task.id);
      if (i >= 0) this.creates[i] = task;
    }
  }

  async create(build: (id: string) => Task): Promise<Task> {
    const id = `${NEW_ID_PREFIX}${this.creates.length}`;
    const t = build(id);
    t.id = id;
    this.creates.push(t);
    this.loaded.set(id, t);
    return t;
  }

  event(e: EventInput): void {
    this.events.push(e);
  }

  body(): Body | null {
    if (!this.dirty.size && !this.creates.length && !this.events.length) return null;
    const puts = [...this.dirty].map((id) => this.loaded.get(id)!);
    return { op: "tx", reads: [...this.reads], all: this.all || undefined, puts, creates: this.creates, ev: this.events.length ? this.events : undefined };
  }
}

/** TeamStore over the files of one data directory. */
export class JsonStore implements TeamStore {
  readonly kind = "json" as const;
  readonly location: string;
  private engine: Engine;
  private clock: () => number;
  private unwatchers = new Set<() => void>();

  constructor(opts: StoreOptions & { dataDir: string }) {
    const root = path.resolve(opts.dataDir);
    this.location = root;
    this.engine = engineFor(root);
    this.clock = opts.now ?? Date.now;
  }

  get root(): string { return this.engine.root; }
  get layout(): Layout { return this.engine.layout; }

  childEnv(): Record<string, string> {
    return { CLANKER_TEAMS_DIR: this.root };
  }

  async now(): Promise<number> {
    return this.clock();
  }

  /** The team's log, caught up; NOT_FOUND when the team does not exist. */
  private open(team: string): TeamLog {
    checkRoot(this.root);
    if (!this.engine.readConfig(team)) throw notFound(team);
    const log = this.engine.log(team);
    try {
      log.catchUp();
    } catch (e) {
      if (e instanceof TeamsError && e.code === "NOT_FOUND") { this.engine.forget(team); throw notFound(team); }
      throw e;
    }
    this.engine.checkFiles(log);
    return log;
  }

  // ---- teams -------------------------------------------------------------------

  async listTeams(): Promise<string[]> {
    checkRoot(this.root);
    let names: string[];
    try {
      names = fs.readdirSync(this.layout.teamsRoot());
    } catch {
      return [];
    }
    return names.filter((n) => {
      try { return fs.lstatSync(this.layout.teamConfig(n)).isFile(); } catch { return false; }
    }).sort();
  }

  async getTeam(team: string): Promise<TeamConfig | undefined> {
    checkRoot(this.root);
    return this.engine.readConfig(team);
  }

  async createTeam(cfg: TeamConfig, events?: EventInput[]): Promise<void> {
    checkRoot(this.root);
    const team = cfg.name;
    const file = this.layout.teamConfig(team);
    await withLock(this.root, file, () => {
      if (this.engine.readConfig(team)) throw new TeamsError("CONFLICT", `team "${team}" already exists; pick another team_name or team_delete it first.`, { team });
      // Left over by a deletion that did not finish: a new team starts empty.
      this.engine.forget(team);
      removeTree(this.layout.walDir(team));
      removeTree(this.layout.tasksDir(team));
      removeTree(this.layout.messagesDir(team));
      removeTree(this.layout.docsDir(team));
      for (const f of [this.layout.events(team)]) try { fs.unlinkSync(f); } catch { /* none */ }
      ensureDir(this.root, this.layout.teamDir(team));
      this.engine.log(team).create();
      writeAtomic(this.root, file, JSON.stringify(cfg, null, 2) + "\n", { durable: true });
    });
    if (events?.length) await this.appendEvents(team, events);
  }

  async editTeam<R>(team: string, rule: (cfg: TeamConfig) => Edit<R>): Promise<Edited<TeamConfig, R>> {
    checkRoot(this.root);
    const file = this.layout.teamConfig(team);
    const r = await withLock(this.root, file, () => {
      const cur = readJson(file, checkConfig);
      if (!cur) throw notFound(team);
      const before = JSON.stringify(cur);
      const edit = rule(cur);
      if (edit.write) writeAtomic(this.root, file, JSON.stringify(cur, null, 2) + "\n", { durable: true });
      return { edit, cur: edit.write ? cur : (JSON.parse(before) as TeamConfig) };
    });
    if (r.edit.write && r.edit.events?.length) await this.appendEvents(team, r.edit.events);
    return { value: r.edit.value, current: r.cur, written: r.edit.write };
  }

  async deleteTeam(team: string): Promise<void> {
    checkRoot(this.root);
    const file = this.layout.teamConfig(team);
    await withLock(this.root, file, async () => {
      // No materializer may write the team's files back while they go.
      await withLock(this.root, this.layout.materializeLock(team), () => {
        this.engine.forget(team);
        try { fs.unlinkSync(file); } catch { /* gone */ }
        removeTree(this.layout.tasksDir(team));
        removeTree(this.layout.messagesDir(team));
        removeTree(this.layout.walDir(team));
      });
      const dir = this.layout.teamDir(team);
      // The team dir holds the lock directory we are in: remove everything else.
      let names: string[] = [];
      try { names = fs.readdirSync(dir); } catch { /* gone */ }
      for (const n of names) if (!n.startsWith("config.json.lock")) removeTree(path.join(dir, n));
    });
    try { fs.rmdirSync(this.layout.teamDir(team)); } catch { /* another process's lock, or gone */ }
    forgetDirs(this.layout.teamDir(team));
    this.engine.forget(team);
  }

  // ---- tasks -------------------------------------------------------------------

  async getTask(team: string, id: string): Promise<Task | undefined> {
    return clone(this.open(team).state.tasks.get(id)?.task);
  }

  async listTasks(team: string): Promise<TaskSummary[]> {
    const st = this.open(team).state;
    const rows: TaskSummary[] = [];
    for (const e of st.tasks.values()) rows.push({ ...e.row, blockedBy: [...e.row.blockedBy], blocks: [...e.row.blocks] });
    return rows.sort(byId);
  }

  async createTask(team: string, build: (id: string) => { task: Task; events?: EventInput[] }): Promise<Task> {
    const log = this.open(team);
    let made: { task: Task; events?: EventInput[] } | undefined;
    const r = log.commit(this.clock(), () => {
      made = build(`${NEW_ID_PREFIX}0`);
      return { op: "create", task: { ...made.task, id: `${NEW_ID_PREFIX}0` }, ev: made.events };
    })!;
    const map = new Map([[`${NEW_ID_PREFIX}0`, r.out.ids![0]]]);
    return replaceIds({ ...made!.task, id: `${NEW_ID_PREFIX}0` }, map);
  }

  async editTask<R>(team: string, id: string, rule: (t: Task) => Edit<R>): Promise<Edited<Task, R>> {
    const log = this.open(team);
    let result!: Edit<R>;
    let copy!: Task;
    let stored!: Task;
    const r = log.commit(this.clock(), (st) => {
      const e = st.tasks.get(id);
      if (!e) throw new TeamsError("NOT_FOUND", `task_id: task "${id}" does not exist in team "${team}"; task_list shows the ids.`, { id });
      stored = e.task;
      copy = clone(e.task);
      result = rule(copy);
      if (!result.write) return null;
      assertEdgesKept(e.task, copy);
      return { op: "edit", id, task: copy, ev: result.events };
    });
    // Without a write, what is stored is the task as it was, whatever the rule did to its copy.
    return { value: result.value, current: r ? copy : clone(stored), written: r !== undefined };
  }

  async editFirst<R>(team: string, ids: string[], rule: (t: Task) => Edit<R> | null): Promise<Edited<Task, R> | undefined> {
    const log = this.open(team);
    for (const id of ids) {
      let result: Edit<R> | null = null;
      let copy!: Task;
      let stored!: Task;
      const r = log.commit(this.clock(), (st) => {
        const e = st.tasks.get(id);
        result = null;
        if (!e) return null;
        stored = e.task;
        copy = clone(e.task);
        result = rule(copy);
        if (!result?.write) return null;
        assertEdgesKept(e.task, copy);
        return { op: "edit", id, task: copy, ev: result.events };
      });
      const res = result as Edit<R> | null;
      if (res) return { value: res.value, current: r ? copy : clone(stored), written: r !== undefined };
    }
    return undefined;
  }

  async transact<R>(team: string, fn: (tx: TaskTx) => Promise<R>): Promise<R> {
    const log = this.open(team);
    let value!: R;
    const r = await log.commitAsync(this.clock(), async (st) => {
      const tx = new JsonTx(st);
      value = await fn(tx);
      return tx.body();
    });
    if (!r?.out.ids?.length) return value;
    const map = new Map(r.out.ids.map((id, i) => [`${NEW_ID_PREFIX}${i}`, id]));
    return replaceIds(value, map);
  }

  // ---- messages ---------------------------------------------------------------

  async deliver(team: string, msgs: Message[], events?: EventInput[]): Promise<void> {
    if (!msgs.length && !events?.length) return;
    this.open(team).commit(this.clock(), () => ({ op: "msg", msgs, ev: events }));
  }

  async unread(team: string, agent: string): Promise<Message[]> {
    const b = this.open(team).state.inboxes.get(agent);
    return b && b.unread ? clone(b.msgs.filter((m) => !m.read)) : [];
  }

  async unreadCount(team: string, agent: string): Promise<number> {
    return this.open(team).state.inboxes.get(agent)?.unread ?? 0;
  }

  async markRead(team: string, agent: string, ids: string[] | "all", actor: string): Promise<Message[]> {
    const log = this.open(team);
    const r = log.commit(this.clock(), (st) => {
      const b = st.inboxes.get(agent);
      if (!b || !b.unread) return null;
      const list = ids === "all" ? b.msgs.filter((m) => !m.read).map((m) => m.id) : ids;
      return list.length ? { op: "read", agent, ids: list, actor } : null;
    });
    return clone(r?.out.marked ?? []);
  }

  async history(team: string, agent: string, opts: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    const log = this.open(team);
    const mem = log.state.inboxes.get(agent)?.msgs ?? [];
    const archived = readJsonLines<Message>(this.layout.archive(team, agent));
    const seen = new Set<string>();
    const all: Message[] = [];
    for (const m of [...archived, ...mem]) if (m && typeof m.id === "string" && !seen.has(m.id)) { seen.add(m.id); all.push(m); }
    const before = Math.min(opts.before ?? all.length, all.length);
    const limit = Math.max(1, opts.limit ?? 100);
    const start = Math.max(0, before - limit);
    return { messages: clone(all.slice(start, before)), nextBefore: start > 0 ? start : undefined, total: all.length };
  }

  // ---- events -------------------------------------------------------------------

  async appendEvents(team: string, events: EventInput[]): Promise<void> {
    if (!events.length) return;
    this.open(team).commit(this.clock(), () => ({ op: "ev", ev: events }));
  }

  async readEvents(team: string, afterSeq = 0, limit = Infinity): Promise<TeamEvent[]> {
    const st = this.open(team).state;
    const out: TeamEvent[] = [];
    if (afterSeq + 1 < st.firstSeq) {
      // Older than this process's memory: events.jsonl has them (synced before the snapshot that left them out).
      for (const e of readJsonLines<TeamEvent>(this.layout.events(team))) {
        if (typeof e?.seq === "number" && e.seq > afterSeq && e.seq < st.firstSeq) out.push(e);
        if (out.length >= limit) return out;
      }
    }
    for (const e of st.eventsAfter(Math.max(afterSeq, st.firstSeq - 1), limit - out.length)) out.push(e);
    return clone(out);
  }

  // ---- presence -----------------------------------------------------------------

  async getPresence(team: string, agent: string): Promise<Runtime | undefined> {
    checkRoot(this.root);
    try {
      return readJson(this.layout.runtimeFile(team, agent), (v) => parseWith(RuntimeSchema, v, "presence file"));
    } catch (e) {
      if (e instanceof TeamsError && (e.code === "CORRUPT" || e.code === "INVALID_INPUT")) return undefined;
      throw e;
    }
  }

  async listPresence(team: string): Promise<Runtime[]> {
    checkRoot(this.root);
    let names: string[] = [];
    try { names = fs.readdirSync(this.layout.runtimeDir(team)); } catch { return []; }
    const out: Runtime[] = [];
    for (const n of names) {
      if (!n.endsWith(".json") || n.includes(".tmp")) continue;
      const rt = await this.getPresence(team, n.slice(0, -5)).catch(() => undefined);
      if (rt) out.push(rt);
    }
    return out;
  }

  async putPresence(team: string, agent: string, patch: Partial<Runtime>): Promise<Runtime> {
    checkRoot(this.root);
    const file = this.layout.runtimeFile(team, agent);
    if (!this.engine.readConfig(team)) throw notFound(team);
    return withLock(this.root, file, () => {
      let cur: Runtime | undefined;
      try { cur = readJson(file, (v) => parseWith(RuntimeSchema, v, "presence file")); } catch { cur = undefined; }
      const now = new Date(this.clock()).toISOString();
      const next = { agent, pid: process.pid, host: "", state: "starting", startedAt: now, ...cur, heartbeatAt: now, ...patch } as Runtime;
      writeAtomic(this.root, file, JSON.stringify(next, null, 2) + "\n");
      return next;
    });
  }

  presenceOnExit(team: string, agent: string, patch: Partial<Runtime>): void {
    const file = this.layout.runtimeFile(team, agent);
    const cur = readJson<Runtime>(file);
    // Only our own presence, and only once: a newer process of that name has taken over otherwise.
    if (!cur || (patch.pid !== undefined && cur.pid !== patch.pid) || cur.state === "stopped") return;
    writeAtomic(this.root, file, JSON.stringify({ ...cur, ...patch, heartbeatAt: new Date(this.clock()).toISOString() }, null, 2) + "\n");
  }

  async removePresence(team: string, agent: string): Promise<void> {
    try { fs.unlinkSync(this.layout.runtimeFile(team, agent)); } catch { /* none */ }
  }

  // ---- documents ---------------------------------------------------------------

  async getDoc<T>(team: string, coll: string, key: string): Promise<T | undefined> {
    return clone(this.open(team).state.doc(coll, key)?.value as T | undefined);
  }

  async listDocs<T>(team: string, coll: string): Promise<Array<{ key: string; value: T }>> {
    const m = this.open(team).state.docs.get(coll);
    const out: Array<{ key: string; value: T }> = [];
    for (const [key, e] of m ?? []) if (e.value !== undefined) out.push({ key, value: clone(e.value as T) });
    return out;
  }

  async editDoc<T, R>(team: string, coll: string, key: string, rule: (cur: T | undefined) => DocEdit<T, R>): Promise<R> {
    const log = this.open(team);
    let result!: DocEdit<T, R>;
    log.commit(this.clock(), (st) => {
      result = rule(clone(st.doc(coll, key)?.value as T | undefined));
      if (result.write === undefined) return null;
      return result.write === null ? { op: "doc", coll, key, value: null, del: true, ev: result.events } : { op: "doc", coll, key, value: result.write, ev: result.events };
    });
    return result.value;
  }

  // ---- locks and notification -------------------------------------------------------

  async withLock<T>(team: string, name: string, fn: () => Promise<T>): Promise<T> {
    checkRoot(this.root);
    return withLock(this.root, this.layout.namedLock(team, name), fn);
  }

  watch(team: string, topic: WatchTopic, onChange: () => void): () => void {
    let last = -1;
    let closed = false;
    const check = () => {
      if (closed) return;
      let v: number;
      try {
        const st = this.open(team).state;
        v = topic === "events" ? st.eventSeq : (st.inboxes.get(topic.inbox)?.v ?? 0);
      } catch {
        return;
      }
      if (v !== last) {
        const first = last === -1;
        last = v;
        if (!first) onChange();
      }
    };
    check();
    let watcher: fs.FSWatcher | undefined;
    const arm = () => {
      if (watcher || closed) return;
      try {
        watcher = fs.watch(this.layout.walDir(team), () => check());
        watcher.on("error", () => { watcher?.close(); watcher = undefined; });
      } catch { /* no log dir yet: the poll below covers it */ }
    };
    arm();
    // A safety net for file systems without change events (and a log directory made later).
    const poll = setInterval(() => { arm(); check(); }, 1000);
    poll.unref();
    const stop = () => {
      closed = true;
      clearInterval(poll);
      watcher?.close();
      this.unwatchers.delete(stop);
    };
    this.unwatchers.add(stop);
    return stop;
  }

  async flush(): Promise<void> {
    this.engine.flushAll();
  }

  async close(): Promise<void> {
    for (const u of [...this.unwatchers]) u();
    this.engine.flushAll();
  }

  /** True while another process holds the lock of one of this team's documented files (tests). */
  lockHeld(file: string): boolean {
    return lockHeld(file);
  }
}

/** Edges change only in transactions, so that a transaction's cycle check sees all of them. */
function assertEdgesKept(before: Task, after: Task): void {
  if (before.blockedBy.join() !== after.blockedBy.join() || before.blocks.join() !== after.blocks.join()) {
    throw new TeamsError("CONFLICT", `task ${before.id}: dependencies change only in a transaction (internal error: editTask changed blocks/blockedBy).`);
  }
}

export { Engine };
