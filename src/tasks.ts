/**
 * Tasks: one file per task (the source of truth) plus the index task_list
 * reads (task-index.ts). Status rules live here.
 *
 * Locks: a change to one task holds only that task's lock (the lock of
 * `task_<id>.json`); its fsync'd temp copy is written before the lock is
 * taken, so the lock covers a compare and a rename. Creating a task takes no
 * lock: the id comes from a ticket (task-ids.ts) and is reserved with an
 * exclusive file (task-index.ts reserveExact).
 * Changes that span tasks (dependency edges) run in a transaction under the
 * team's tasks lock (the lock of tasks.json) and take the task locks of what
 * they write, in id order, after it. No path takes the team lock while
 * holding a task lock, so there is no deadlock.
 */
import fs from "node:fs";
import path from "node:path";
import type { Ctx } from "./context.js";
import { TeamsError, invalid } from "./errors.js";
import { appendEvent } from "./events.js";
import { sendMessage, systemMessage } from "./messages.js";
import { TaskStatus, type Task, type TaskIndex, type TaskSummary } from "./schemas.js";
import { reserveNewId } from "./task-ids.js";
import { tryLockSync, withLock } from "./store/lock.js";
import { LEAD_NAME, validateTaskId } from "./store/paths.js";
import {
  clearIntent, commitTemp, compact, compactIfIdle, compactLocked, discardTemp, fillReservation, intentTemp, logAround, logPending, logRow,
  readIndex, readIntent, readRaw, readTaskFile, readVisible, releaseReservation, rowChanged, summaryOf,
  recoverIntent, taskLockPath, withLocks, writeIntent, writeTemp,
  type Reservation, type TaskRead,
} from "./task-index.js";
import { isLead, readTeam, requireMember } from "./teams.js";

export { rebuildIndex } from "./task-index.js";

export const MAX_SUBJECT_CHARS = 200;
export const MAX_DESCRIPTION_BYTES = 64 * 1024;
export const MAX_PLAN_BYTES = 64 * 1024;
const FINISHED = new Set<TaskStatus>(["completed", "deleted"]);

function text(field: string, v: unknown, max: number, opts: { bytes?: boolean; allowEmpty?: boolean } = {}): string {
  if (typeof v !== "string") throw invalid(field, `must be a string (got ${v === undefined ? "nothing" : typeof v})`);
  if (!opts.allowEmpty && !v.trim()) throw invalid(field, "must not be empty");
  if (v.includes("\u0000")) throw invalid(field, "contains a NUL character; remove it");
  const n = opts.bytes ? Buffer.byteLength(v) : v.length;
  if (n > max) throw invalid(field, `is ${n} ${opts.bytes ? "bytes" : "characters"}; the limit is ${max}. ${field === "subject" ? "Put details in description." : "Put long material in a file and give its path."}`);
  return v;
}

function status(field: string, v: unknown): TaskStatus {
  const r = TaskStatus.safeParse(v);
  if (!r.success) throw invalid(field, `unknown status ${JSON.stringify(v)}; use one of ${TaskStatus.options.join(", ")}`);
  return r.data;
}

const serialize = (t: Task) => JSON.stringify(t, null, 2) + "\n";
const byId = (a: string, b: string) => Number(a) - Number(b);

function teamDeleted(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" was deleted.`, { team });
}

function assertTeamExists(ctx: Ctx, team: string): void {
  // Deleted while we waited or worked: do not resurrect the team's task files.
  if (!fs.existsSync(ctx.paths.teamConfig(team))) throw teamDeleted(team);
}

function noSuchTask(ctx: Ctx, team: string, id: string, field: string): TeamsError {
  const index = readIndex(ctx, team);
  if (id in index.tasks) return new TeamsError("NOT_FOUND", `${field}: task "${id}" is in the index but its file is missing; it may have been removed by hand.`, { field, id });
  const ids = Object.keys(index.tasks).sort(byId);
  return new TeamsError("NOT_FOUND", `${field}: task "${id}" does not exist in team "${team}"${ids.length ? ` (ids ${ids[0]}–${ids[ids.length - 1]})` : " (no tasks yet)"}; task_list shows the ids.`, { field, id });
}

function readTask(ctx: Ctx, team: string, id: string, field = "task_id"): TaskRead {
  const r = readTaskFile(ctx.paths.taskFile(team, id));
  if (!r) throw noSuchTask(ctx, team, id, field);
  return r;
}

/** Unfinished blockers of a task, read from their files (`known`: tasks already in hand). */
function openBlockers(ctx: Ctx, team: string, t: Task, known?: (id: string) => Task | undefined): TaskSummary[] {
  const open: TaskSummary[] = [];
  for (const b of t.blockedBy) {
    const bt = known?.(b) ?? readVisible(ctx, team, b)?.task;
    if (bt && !FINISHED.has(bt.status)) open.push(summaryOf(bt));
  }
  return open;
}

/** Compacts the index when an append crossed the mark; never fails the change that caused it. */
async function compactAfter(ctx: Ctx, team: string, crossed: boolean): Promise<void> {
  if (!crossed) return;
  try {
    await compact(ctx, team);
  } catch { /* the next writer past the mark, or task_list, will */ }
}

/** Thrown inside a task lock when a dead transaction must be finished first. */
class NeedsRecovery extends Error {}

/**
 * Changes one task under its own lock. `edit` changes the task it is given
 * and says whether to write it; it runs once on the task as read, and again
 * under the lock if another writer replaced the file in between (so a check
 * such as "unowned" is decided on the state that gets replaced).
 */
async function editTask<R>(ctx: Ctx, team: string, id: string, edit: (t: Task) => { value: R; write: boolean }): Promise<{ value: R; task: Task; written: boolean }> {
  for (;;) {
    try {
      return await editTaskOnce(ctx, team, id, edit);
    } catch (e) {
      if (!(e instanceof NeedsRecovery)) throw e;
      await withLock(ctx.paths.taskIndex(team), () => recoverIntent(ctx, team));
    }
  }
}

async function editTaskOnce<R>(ctx: Ctx, team: string, id: string, edit: (t: Task) => { value: R; write: boolean }): Promise<{ value: R; task: Task; written: boolean }> {
  const file = ctx.paths.taskFile(team, id);
  const first = readTask(ctx, team, id);
  let t = JSON.parse(first.raw) as Task;
  let r = edit(t);
  if (!r.write) return { value: r.value, task: t, written: false };
  t.updatedAt = ctx.now();
  let tmp: string | undefined = writeTemp(file, serialize(t));
  let crossed = false;
  try {
    const section = () => {
      assertTeamExists(ctx, team);
      // Holding this lock while a transaction names this task means that transaction died (it
      // holds the lock until its intent is gone): finish it first, under the team lock.
      if (intentTemp(ctx, team, readIntent(ctx, team), id)) throw new NeedsRecovery();
      // Unchanged since we read it (the common case): no need to parse it again.
      const cur = readRaw(file) === first.raw ? first : readTask(ctx, team, id);
      if (cur.raw !== first.raw) {
        discardTemp(tmp!);
        tmp = undefined;
        t = JSON.parse(cur.raw) as Task;
        r = edit(t);
        if (!r.write) return { value: r.value, task: t, written: false };
        t.updatedAt = ctx.now();
        tmp = writeTemp(file, serialize(t));
      }
      const row = summaryOf(t);
      const rename = () => { commitTemp(tmp!, file); tmp = undefined; };
      if (rowChanged(summaryOf(cur.task), row)) crossed = logAround(ctx, team, row, rename);
      else rename();
      return { value: r.value, task: t, written: true };
    };
    // The section is synchronous: take the lock with one mkdir when it is free, else queue for it.
    const lockPath = taskLockPath(ctx, team, id);
    const out = tryLockSync(lockPath, section)?.value ?? (await withLock(lockPath, section));
    await compactAfter(ctx, team, crossed);
    return out;
  } finally {
    if (tmp) discardTemp(tmp);
  }
}

/** A transaction over several tasks of one team, holding the team's tasks lock. */
class Tx {
  private read = new Map<string, TaskRead>();
  private loaded = new Map<string, Task>();
  private dirty = new Set<string>();
  private reserved = new Map<string, Reservation>();
  /** New ids a failed commit keeps for the next run (so running again uses up no id). */
  readonly kept: Reservation[] = [];
  constructor(readonly ctx: Ctx, readonly team: string, readonly index: TaskIndex, private spare: Reservation[] = []) {}

  has(id: string): boolean { return id in this.index.tasks || this.loaded.has(id); }

  get(id: string, field = "task_id"): Task {
    const cached = this.loaded.get(id);
    if (cached) return cached;
    const r = readTask(this.ctx, this.team, id, field);
    const t = JSON.parse(r.raw) as Task;
    this.read.set(id, r);
    this.loaded.set(id, t);
    if (!(id in this.index.tasks)) this.index.tasks[id] = summaryOf(r.task);
    return t;
  }

  put(t: Task): void {
    t.updatedAt = this.ctx.now();
    this.loaded.set(t.id, t);
    this.dirty.add(t.id);
    this.index.tasks[t.id] = summaryOf(t);
  }

  /** A new id, reserved until commit or abort. */
  allocateId(): string {
    const r = this.spare.shift() ?? reserveNewId(this.ctx, this.team, this.index.nextId);
    this.reserved.set(r.id, r);
    this.index.nextId = Number(r.id) + 1;
    return r.id;
  }

  /** Unfinished blockers of a task. */
  openBlockers(t: Task): TaskSummary[] {
    return openBlockers(this.ctx, this.team, t, (id) => this.loaded.get(id));
  }

  /** Gives back reserved ids that were not used. */
  abort(): void {
    for (const res of [...this.reserved.values(), ...this.spare]) releaseReservation(res);
    this.reserved.clear();
    this.spare = [];
  }

  /**
   * Writes what changed: temp copies first (fsync'd), then under the task
   * locks (id order) a check that nobody replaced a file this transaction
   * read, then pending lines, renames and rows. False: a file changed, run again.
   */
  async commit(): Promise<{ ok: boolean; crossed: boolean }> {
    const ids = [...this.dirty].sort(byId);
    const temps = new Map<string, string>();
    let crossed = false;
    let intent = false;
    try {
      for (const id of ids) {
        const t = this.loaded.get(id)!;
        const res = this.reserved.get(id);
        if (res) { fillReservation(res, serialize(t)); temps.set(id, res.path); this.reserved.delete(id); }
        else temps.set(id, writeTemp(this.ctx.paths.taskFile(this.team, id), serialize(t)));
      }
      const existing = ids.filter((id) => this.read.has(id));
      const ok = await withLocks(existing.map((id) => taskLockPath(this.ctx, this.team, id)), () => {
        assertTeamExists(this.ctx, this.team);
        for (const id of existing) {
          const cur = readTaskFile(this.ctx.paths.taskFile(this.team, id));
          if (!cur || cur.raw !== this.read.get(id)!.raw) return false;
        }
        const rows = new Map(ids.map((id) => [id, summaryOf(this.loaded.get(id)!)]));
        const indexed = ids.filter((id) => !this.read.has(id) || rowChanged(summaryOf(this.read.get(id)!.task), rows.get(id)!));
        // Several files: the intent is the commit point (a crash after it is rolled forward).
        if (ids.length > 1) { writeIntent(this.ctx, this.team, { writes: ids.map((id) => ({ id, tmp: path.basename(temps.get(id)!) })) }); intent = true; }
        for (const id of indexed) if (this.read.has(id)) crossed = logPending(this.ctx, this.team, id) || crossed;
        for (const id of ids) { commitTemp(temps.get(id)!, this.ctx.paths.taskFile(this.team, id)); temps.delete(id); }
        for (const id of indexed) crossed = logRow(this.ctx, this.team, rows.get(id)!) || crossed;
        if (intent) { clearIntent(this.ctx, this.team); intent = false; }
        return true;
      });
      if (!ok) {
        // Keep the new ids' reservation files (their names hold the ids) for the next run.
        for (const [id, tmp] of temps) if (!this.read.has(id)) { this.kept.push({ id, path: tmp }); temps.delete(id); }
      }
      return { ok, crossed };
    } finally {
      // After the commit point, what is left belongs to the roll-forward.
      if (!intent) for (const tmp of temps.values()) discardTemp(tmp);
      this.abort();
    }
  }

  get changed(): boolean { return this.dirty.size > 0; }
}

/**
 * Runs `fn` in a transaction holding the team's tasks lock; writes what it
 * changed. `fn` may run more than once: if a single-task writer replaced a
 * task it read before the commit, it runs again on the new state.
 */
export async function inTasks<T>(ctx: Ctx, team: string, fn: (tx: Tx) => T): Promise<T> {
  readTeam(ctx, team);
  return withLock(ctx.paths.taskIndex(team), async () => {
    await recoverIntent(ctx, team);
    let spare: Reservation[] = [];
    for (let attempt = 0; ; attempt++) {
      assertTeamExists(ctx, team);
      const tx = new Tx(ctx, team, readIndex(ctx, team), spare);
      let r: T;
      try {
        r = fn(tx);
      } catch (e) {
        tx.abort();
        throw e;
      }
      if (!tx.changed) { tx.abort(); return r; }
      const { ok, crossed } = await tx.commit();
      if (crossed) try { compactLocked(ctx, team, 0); } catch { /* next time */ }
      if (ok) return r;
      spare = tx.kept;
      if (attempt >= 50) {
        for (const res of spare) releaseReservation(res);
        throw new TeamsError("CONFLICT", "tasks kept changing under this transaction; retry.");
      }
    }
  });
}

function checkCycle(tx: Tx, taskId: string, blockerId: string): void {
  // Adding "taskId is blocked by blockerId" closes a cycle if blockerId already (transitively) waits on taskId.
  const stack = [blockerId];
  const seen = new Set<string>();
  while (stack.length) {
    const cur = stack.pop()!;
    if (cur === taskId) throw new TeamsError("CONFLICT", `blocked_by: task ${taskId} blocked by ${blockerId} would make a dependency cycle (${blockerId} already waits on ${taskId}); remove one of the edges first.`, { taskId, blockerId });
    if (seen.has(cur)) continue;
    seen.add(cur);
    stack.push(...(tx.index.tasks[cur]?.blockedBy ?? []));
  }
}

/** The task a blocker id names, if it may block task `taskId` (undefined: a task not created yet). */
function blockerOf(tx: Tx, taskId: string | undefined, blockerRaw: unknown, field: string): Task {
  const b = validateTaskId(field, blockerRaw);
  if (b === taskId) throw invalid(field, `task ${taskId} cannot block itself`);
  const blocker = tx.get(b, field);
  if (blocker.status === "deleted") throw invalid(field, `task ${b} is deleted and cannot block anything`);
  return blocker;
}

function addBlocker(tx: Tx, t: Task, blockerRaw: unknown, field: string): void {
  const blocker = blockerOf(tx, t.id, blockerRaw, field);
  const b = blocker.id;
  if (t.blockedBy.includes(b)) return;
  checkCycle(tx, t.id, b);
  t.blockedBy = [...t.blockedBy, b];
  blocker.blocks = [...blocker.blocks, t.id];
  tx.put(blocker);
}

function removeBlocker(tx: Tx, t: Task, blockerRaw: unknown, field: string): void {
  const b = validateTaskId(field, blockerRaw);
  if (!t.blockedBy.includes(b)) return;
  t.blockedBy = t.blockedBy.filter((x) => x !== b);
  if (tx.has(b) || fs.existsSync(tx.ctx.paths.taskFile(tx.team, b))) {
    const blocker = tx.get(b, field);
    blocker.blocks = blocker.blocks.filter((x) => x !== t.id);
    tx.put(blocker);
  }
}

function blockedError(t: Task, open: TaskSummary[], wanted: string): TeamsError {
  const list = open.map((s) => `#${s.id} "${s.subject}" (${s.status}${s.owner ? `, ${s.owner}` : ""})`).join(", ");
  return new TeamsError("BLOCKED", `task ${t.id} cannot be ${wanted} while blocked by ${list}; finish those first or remove_blocked_by.`, { taskId: t.id, blockers: open.map((s) => s.id) });
}

function taskBrief(t: Task): string {
  return `#${t.id} "${t.subject}"\n${t.description}`;
}

export interface CreateTaskInput { subject: string; description: string; status?: string; owner?: string; blocked_by?: unknown[] }

/** Creates a task; returns it. Assigning an owner messages that owner. */
export async function createTask(ctx: Ctx, team: string, input: CreateTaskInput): Promise<Task> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const subject = text("subject", input.subject, MAX_SUBJECT_CHARS);
  const description = text("description", input.description ?? "", MAX_DESCRIPTION_BYTES, { bytes: true, allowEmpty: true });
  const st = input.status === undefined ? "pending" : status("status", input.status);
  if (st === "deleted" || st === "completed") throw invalid("status", `a new task cannot start as ${st}; use pending`);
  const owner = input.owner === undefined || input.owner === "" ? undefined : requireMember(cfg, "owner", input.owner);
  if (input.blocked_by !== undefined && !Array.isArray(input.blocked_by)) throw invalid("blocked_by", "must be a list of task ids, e.g. [\"1\", \"2\"]");
  const fresh = (id: string): Task => {
    const now = ctx.now();
    const t: Task = { id, subject, description, status: st, blocks: [], blockedBy: [], createdBy: ctx.actor, createdAt: now, updatedAt: now };
    if (owner) { t.owner = owner; t.claimedAt = now; }
    return t;
  };
  let task: Task;
  if (input.blocked_by?.length) {
    // Edges on other tasks: a transaction under the team lock.
    task = await inTasks(ctx, team, (tx) => {
      // The checks before the id is taken, so that refused input uses up no id (a new task can be in no cycle).
      const blockers = (input.blocked_by ?? []).map((b) => blockerOf(tx, undefined, b, "blocked_by"));
      const open = blockers.filter((b) => !FINISHED.has(b.status)).map(summaryOf);
      if (st === "in_progress" && open.length) throw blockedError(fresh("(new)"), open, "started");
      const t = fresh(tx.allocateId());
      tx.index.tasks[t.id] = summaryOf(t); // so cycle checks see it
      for (const b of input.blocked_by ?? []) addBlocker(tx, t, b, "blocked_by");
      tx.put(t);
      return t;
    });
  } else {
    // No lock at all: reserve an id, fill the reservation, rename it into place, log the row.
    assertTeamExists(ctx, team);
    const res = reserveNewId(ctx, team);
    const t = fresh(res.id);
    try {
      fillReservation(res, serialize(t));
      assertTeamExists(ctx, team);
      commitTemp(res.path, ctx.paths.taskFile(team, t.id));
    } catch (e) {
      releaseReservation(res);
      throw e;
    }
    await compactAfter(ctx, team, logRow(ctx, team, summaryOf(t)));
    task = t;
  }
  await appendEvent(ctx, team, "task.created", { id: task.id, subject, status: task.status, owner, blockedBy: task.blockedBy });
  if (owner && owner !== ctx.actor) await notify(ctx, team, owner, `Task #${task.id} assigned to you`, `${ctx.actor} assigned you task ${taskBrief(task)}`, "task_assigned");
  return task;
}

export interface ListFilter { status?: string; owner?: string; include_deleted?: boolean }

/** Lists task summaries from the index (snapshot + change log); deleted tasks only when asked for. */
export function listTasks(ctx: Ctx, team: string, filter: ListFilter = {}): TaskSummary[] {
  readTeam(ctx, team);
  const st = filter.status === undefined ? undefined : status("status", filter.status);
  const index = readIndex(ctx, team);
  // Fold the change log into tasks.json when nobody holds the team lock, so the file is current for scripts.
  try { compactIfIdle(ctx, team); } catch { /* a reader never fails for this */ }
  return Object.values(index.tasks)
    .filter((t) => (st ? t.status === st : t.status !== "deleted" || filter.include_deleted))
    .filter((t) => (filter.owner === undefined ? true : filter.owner === "" ? !t.owner : t.owner === filter.owner))
    .sort((a, b) => Number(a.id) - Number(b.id))
    .map((t) => ({ ...t, blockedBy: [...t.blockedBy], blocks: [...t.blocks] }));
}

/** Reads one task (including deleted ones). */
export function getTask(ctx: Ctx, team: string, id: unknown): Task {
  readTeam(ctx, team);
  const tid = validateTaskId("task_id", id);
  const r = readVisible(ctx, team, tid);
  if (!r) throw new TeamsError("NOT_FOUND", `task_id: task "${tid}" does not exist in team "${team}"; task_list shows the ids.`, { id: tid });
  return r.task;
}

export interface UpdateTaskInput {
  status?: string; owner?: string; subject?: string; description?: string; active_form?: string;
  add_blocked_by?: unknown[]; remove_blocked_by?: unknown[];
}

export interface UpdateResult {
  task: Task;
  changed: string[];
  /** Tasks that became unblocked because this one completed. */
  unblocked: TaskSummary[];
  /** Of those, the ids whose plan is approved: their owners were told to start. */
  ready?: string[];
  hook?: import("./context.js").HookResult;
  vetoed?: boolean;
}

/** May the caller change this task? Owners and the lead; anyone for an unowned task. */
function assertMayEdit(ctx: Ctx, lead: boolean, t: Task): void {
  if (lead || !t.owner || t.owner === ctx.actor) return;
  throw new TeamsError("FORBIDDEN", `task ${t.id} is owned by ${t.owner}, not you (${ctx.actor}); ${t.owner === ctx.actor ? "" : "if it was yours, it was released and reassigned. "}Ask ${LEAD_NAME} to reassign it, or task_claim another task.`, { taskId: t.id, owner: t.owner });
}

/** Changes only the fields given. Completing runs the completion hook (outside the lock). */
export async function updateTask(ctx: Ctx, team: string, idRaw: unknown, input: UpdateTaskInput): Promise<UpdateResult> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const lead = isLead(cfg, ctx.actor);
  const newStatus = input.status === undefined ? undefined : status("status", input.status);
  const subject = input.subject === undefined ? undefined : text("subject", input.subject, MAX_SUBJECT_CHARS);
  const description = input.description === undefined ? undefined : text("description", input.description, MAX_DESCRIPTION_BYTES, { bytes: true, allowEmpty: true });
  const activeForm = input.active_form === undefined ? undefined : text("active_form", input.active_form, MAX_SUBJECT_CHARS, { allowEmpty: true });
  let owner: string | null | undefined;
  if (input.owner !== undefined) {
    owner = input.owner === "" || input.owner === null ? null : requireMember(cfg, "owner", input.owner);
    if (!lead && owner !== null && owner !== ctx.actor) throw new TeamsError("FORBIDDEN", `owner: only ${LEAD_NAME} assigns tasks to others; you may set owner to yourself (${ctx.actor}) or use task_claim.`);
  }
  for (const f of ["add_blocked_by", "remove_blocked_by"] as const) {
    if (input[f] !== undefined && !Array.isArray(input[f])) throw invalid(f, "must be a list of task ids, e.g. [\"1\"]");
  }
  const before: { owner?: string; status?: TaskStatus } = {};
  /** The field changes; `edges` edits dependencies (transactions only), `open` lists unfinished blockers. */
  const apply = (t: Task, open: (t: Task) => TaskSummary[], edges?: (t: Task) => void): string[] => {
    before.owner = t.owner;
    before.status = t.status;
    assertMayEdit(ctx, lead, t);
    if (t.status === "deleted" && newStatus !== "deleted") throw invalid("task_id", `task ${id} is deleted; create a new task instead`);
    const changed: string[] = [];
    if (subject !== undefined && subject !== t.subject) { t.subject = subject; changed.push("subject"); }
    if (description !== undefined && description !== t.description) { t.description = description; changed.push("description"); }
    if (activeForm !== undefined && activeForm !== t.activeForm) { t.activeForm = activeForm || undefined; changed.push("activeForm"); }
    if (edges) { edges(t); changed.push("blockedBy"); }
    if (owner !== undefined && (owner ?? undefined) !== t.owner) {
      if (owner === null) delete t.owner; else { t.owner = owner; t.claimedAt = ctx.now(); }
      changed.push("owner");
    }
    if (newStatus !== undefined && newStatus !== t.status) {
      if (newStatus === "in_progress" || newStatus === "completed") {
        const blockers = open(t);
        if (blockers.length) throw blockedError(t, blockers, newStatus === "completed" ? "completed" : "started");
      }
      t.status = newStatus;
      if (newStatus === "completed") { t.completedAt = ctx.now(); delete t.hookFeedback; }
      changed.push("status");
    }
    return changed;
  };
  let res: { task: Task; changed: string[] };
  if ((input.add_blocked_by?.length ?? 0) + (input.remove_blocked_by?.length ?? 0)) {
    res = await inTasks(ctx, team, (tx) => {
      const t = tx.get(id);
      const changed = apply(t, (x) => tx.openBlockers(x), (x) => {
        for (const b of input.remove_blocked_by ?? []) removeBlocker(tx, x, b, "remove_blocked_by");
        for (const b of input.add_blocked_by ?? []) addBlocker(tx, x, b, "add_blocked_by");
      });
      if (changed.length) tx.put(t);
      return { task: t, changed };
    });
  } else {
    const r = await editTask(ctx, team, id, (t) => {
      const changed = apply(t, (x) => openBlockers(ctx, team, x));
      return { value: changed, write: changed.length > 0 };
    });
    res = { task: r.task, changed: r.value };
  }
  const { task, changed } = res;
  if (changed.length) await appendEvent(ctx, team, "task.updated", { id, changed, status: task.status, owner: task.owner ?? null, from: before });
  if (changed.includes("owner") && task.owner && task.owner !== ctx.actor) {
    await notify(ctx, team, task.owner, `Task #${id} assigned to you`, `${ctx.actor} assigned you task ${taskBrief(task)}`, "task_assigned");
  }
  const result: UpdateResult = { task, changed, unblocked: [] };
  if (changed.includes("status") && task.status === "completed") await afterCompleted(ctx, team, cfg.hookTimeoutMs, result);
  return result;
}

/** Runs the completion hook; on veto puts the task back, else reports and notifies unblocked tasks. */
async function afterCompleted(ctx: Ctx, team: string, cfgTimeout: number | undefined, result: UpdateResult): Promise<void> {
  const task = result.task;
  if (ctx.runHook) {
    const envTimeout = Number(ctx.env.CLANKER_HOOK_TIMEOUT_MS);
    const timeoutMs = envTimeout > 0 ? envTimeout : cfgTimeout ?? 5 * 60_000;
    // The hook (and any clanker-teams CLI it calls) must see this context's data dir, whatever the env says.
    const hook = await ctx.runHook({ team, task, agent: ctx.actor, cwd: ctx.cwd, timeoutMs, env: { ...ctx.env, CLANKER_TEAMS_DIR: ctx.paths.root } });
    if (hook.outcome !== "missing") {
      result.hook = hook;
      await appendEvent(ctx, team, "hook.ran", { taskId: task.id, outcome: hook.outcome, exitCode: hook.exitCode, durationMs: hook.durationMs });
    }
    if (hook.outcome === "veto") {
      result.vetoed = true;
      const feedback = `Completion vetoed by task_completed hook (exit 2):\n${hook.outputTail ?? ""}`.trim();
      result.task = (await editTask(ctx, team, task.id, (t) => {
        if (t.status !== "completed") return { value: undefined, write: false };
        t.status = "in_progress";
        delete t.completedAt;
        t.hookFeedback = feedback;
        return { value: undefined, write: true };
      })).task;
      await appendEvent(ctx, team, "task.completion_vetoed", { id: task.id, status: result.task.status });
      return;
    }
  }
  // Which dependents did this completion unblock? Read from their files, no lock.
  // One whose plan was approved while it was blocked stayed pending (evaluatePlan): its owner may start it now.
  const ready = new Set<string>();
  for (const depId of task.blocks) {
    const dep = readVisible(ctx, team, depId)?.task;
    if (!dep || FINISHED.has(dep.status) || openBlockers(ctx, team, dep).length) continue;
    result.unblocked.push(summaryOf(dep));
    if (dep.status === "pending" && dep.owner && dep.planStatus === "approved") ready.add(dep.id);
  }
  result.ready = [...ready];
  if (result.unblocked.length) await appendEvent(ctx, team, "task.unblocked", { by: task.id, ids: result.unblocked.map((d) => d.id), ...(ready.size ? { ready: [...ready] } : {}) });
  for (const dep of result.unblocked) {
    if (!dep.owner || dep.owner === ctx.actor) continue;
    const why = `#${task.id} "${task.subject}" was completed by ${ctx.actor}`;
    if (ready.has(dep.id)) {
      await notify(ctx, team, dep.owner, `Task #${dep.id} can start now`, `Task #${dep.id} "${dep.subject}" can start now: its plan is approved and its last blocker is done (${why}). Set it in_progress with task_update (task_id "${dep.id}", status "in_progress") and implement the plan.`, "task_ready");
    } else {
      await notify(ctx, team, dep.owner, `Task #${dep.id} is unblocked`, `Task #${dep.id} "${dep.subject}" is now unblocked: ${why}.`, "task_unblocked");
    }
  }
}

/** Tells a member about a task change; failures never undo the state change that caused it. */
async function notify(ctx: Ctx, team: string, to: string, summary: string, content: string, kind: string): Promise<void> {
  try {
    if (to === ctx.actor) await systemMessage(ctx, team, to, summary, content, kind);
    else await sendMessage(ctx, team, { recipient: to, summary: summary.slice(0, 200), content, kind });
  } catch (e) {
    await appendEvent(ctx, team, "notify.failed", { to, summary, error: (e as Error).message }).catch(() => undefined);
  }
}
export { notify as notifyMember };

/** Submits a plan: status planning, the lead gets the plan to approve. */
export async function submitPlan(ctx: Ctx, team: string, idRaw: unknown, planRaw: unknown): Promise<Task> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const plan = text("plan", planRaw, MAX_PLAN_BYTES, { bytes: true });
  const lead = isLead(cfg, ctx.actor);
  const { task } = await editTask(ctx, team, id, (t) => {
    assertMayEdit(ctx, lead, t);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; plans are for unfinished tasks`);
    if (!t.owner) { t.owner = ctx.actor; t.claimedAt = ctx.now(); }
    t.status = "planning";
    t.plan = plan;
    t.planStatus = "submitted";
    delete t.planFeedback;
    return { value: undefined, write: true };
  });
  await appendEvent(ctx, team, "plan.submitted", { id, owner: task.owner });
  if (!lead) await notify(ctx, team, LEAD_NAME, `Plan for task #${id} needs review`, `${ctx.actor} submitted a plan for task #${id} "${task.subject}". Approve or reject it with task_evaluate_plan.\n\nPlan:\n${plan}`, "plan_submitted");
  return task;
}

/** The lead approves (→ in_progress, feedback cleared) or rejects (→ in_progress with required feedback) a plan. */
export async function evaluatePlan(ctx: Ctx, team: string, idRaw: unknown, action: unknown, feedbackRaw?: unknown): Promise<{ task: Task; note?: string }> {
  const cfg = readTeam(ctx, team);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} evaluates plans; you are ${ctx.actor}.`);
  const id = validateTaskId("task_id", idRaw);
  if (action !== "approve" && action !== "reject") throw invalid("action", `must be "approve" or "reject" (got ${JSON.stringify(action)})`);
  const feedback = feedbackRaw === undefined || feedbackRaw === "" ? undefined : text("feedback", feedbackRaw, MAX_PLAN_BYTES, { bytes: true });
  if (action === "reject" && !feedback) throw invalid("feedback", "is required to reject a plan: say what to change");
  const { task, value: note } = await editTask(ctx, team, id, (t) => {
    let note: string | undefined;
    if (t.planStatus !== "submitted" || !t.plan) throw invalid("task_id", `task ${id} has no plan awaiting review (plan status: ${t.planStatus ?? "none"}); the owner submits one with task_submit_plan`);
    if (action === "approve") {
      t.planStatus = "approved";
      delete t.planFeedback;
      const open = openBlockers(ctx, team, t);
      if (open.length) { t.status = "pending"; note = `approved, but still blocked by ${open.map((o) => "#" + o.id).join(", ")}: it stays pending until they complete`; }
      else t.status = "in_progress";
    } else {
      t.planStatus = "rejected";
      t.planFeedback = feedback;
      t.status = "in_progress";
    }
    return { value: note, write: true };
  });
  await appendEvent(ctx, team, action === "approve" ? "plan.approved" : "plan.rejected", { id, owner: task.owner, feedback });
  if (task.owner && task.owner !== ctx.actor) {
    await notify(ctx, team, task.owner, `Plan for task #${id} ${action === "approve" ? "approved" : "rejected"}`,
      action === "approve" ? `Your plan for task #${id} "${task.subject}" is approved${note ? ` (${note})` : ""}. Go ahead and implement it.` : `Your plan for task #${id} "${task.subject}" was rejected. Feedback:\n${feedback}\n\nRevise the plan and submit it again with task_submit_plan.`,
      action === "approve" ? "plan_approved" : "plan_rejected");
  }
  return { task, note };
}

/** Claims a task for the caller: the given one, or the oldest pending, unowned, unblocked one. Atomic across racing claimers. */
export async function claimTask(ctx: Ctx, team: string, idRaw?: unknown): Promise<{ task?: Task; reason?: string }> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const wanted = idRaw === undefined || idRaw === null || idRaw === "" ? undefined : validateTaskId("task_id", idRaw);
  const take = (t: Task) => { t.owner = ctx.actor; t.status = "in_progress"; t.claimedAt = ctx.now(); };
  let claimed: Task | undefined;
  if (wanted) {
    // The task's own lock makes this atomic: of racing claimers, the first rename wins and the rest see its owner.
    const r = await editTask(ctx, team, wanted, (t) => {
      if (t.owner === ctx.actor && (t.status === "in_progress" || t.status === "planning")) return { value: "already", write: false };
      if (t.owner && t.owner !== ctx.actor) throw new TeamsError("CONFLICT", `task ${wanted} is already claimed by ${t.owner}; task_claim without task_id takes the next free task.`, { owner: t.owner });
      if (t.status !== "pending") throw new TeamsError("CONFLICT", `task ${wanted} is ${t.status}, not pending; only pending tasks can be claimed.`);
      const open = openBlockers(ctx, team, t);
      if (open.length) throw blockedError(t, open, "claimed");
      take(t);
      return { value: "claimed", write: true };
    });
    if (r.value === "already") return { task: r.task };
    claimed = r.task;
  } else {
    // Oldest candidate first, each decided under its own lock; one a racer took is skipped.
    const index = readIndex(ctx, team);
    const done = (b: string) => { const s = index.tasks[b]; return !s || FINISHED.has(s.status); };
    const candidates = Object.values(index.tasks)
      .filter((s) => s.status === "pending" && !s.owner && s.blockedBy.every(done))
      .sort((a, b) => Number(a.id) - Number(b.id));
    for (const c of candidates) {
      let r;
      try {
        r = await editTask(ctx, team, c.id, (t) => {
          if (t.owner || t.status !== "pending" || openBlockers(ctx, team, t).length) return { value: false, write: false };
          take(t);
          return { value: true, write: true };
        });
      } catch (e) {
        if (e instanceof TeamsError && (e.code === "NOT_FOUND" || e.code === "CORRUPT")) continue;
        throw e;
      }
      if (r.value) { claimed = r.task; break; }
    }
    if (!claimed) {
      const pending = Object.values(readIndex(ctx, team).tasks).filter((s) => s.status === "pending");
      return { reason: !pending.length ? "no pending tasks" : `all ${pending.length} pending task(s) are owned or blocked` };
    }
  }
  await appendEvent(ctx, team, "task.claimed", { id: claimed.id, owner: ctx.actor });
  return { task: claimed };
}

/** Gives a claimed task back: pending, owner cleared; the lead is told. */
export async function releaseTask(ctx: Ctx, team: string, idRaw: unknown, reason?: string): Promise<Task> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const lead = isLead(cfg, ctx.actor);
  const why = reason === undefined ? undefined : text("reason", reason, 2000, { allowEmpty: true });
  const { task, value: prevOwner } = await editTask(ctx, team, id, (t) => {
    if (!t.owner) throw new TeamsError("CONFLICT", `task ${id} is not claimed by anyone; nothing to release.`);
    if (!lead && t.owner !== ctx.actor) throw new TeamsError("FORBIDDEN", `task ${id} is owned by ${t.owner}, not you (${ctx.actor}); only its owner or ${LEAD_NAME} can release it.`);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; only unfinished tasks can be released`);
    const prev = t.owner;
    delete t.owner;
    t.status = "pending";
    return { value: prev, write: true };
  });
  await appendEvent(ctx, team, "task.released", { id, owner: prevOwner, reason: why });
  if (ctx.actor !== LEAD_NAME) await notify(ctx, team, LEAD_NAME, `Task #${id} released by ${ctx.actor}`, `${ctx.actor} released task #${id} "${task.subject}"; it is pending again.${why ? ` Reason: ${why}` : ""}`, "task_released");
  return task;
}

/** Puts every unfinished task of `owner` back to pending with the owner cleared; logs it and tells the lead. */
export async function releaseTasksOf(ctx: Ctx, team: string, owner: string, reason: string): Promise<Task[]> {
  readTeam(ctx, team);
  const released: Task[] = [];
  const ids = Object.values(readIndex(ctx, team).tasks).filter((s) => s.owner === owner && !FINISHED.has(s.status)).map((s) => s.id).sort(byId);
  for (const id of ids) {
    let r;
    try {
      r = await editTask(ctx, team, id, (t) => {
        if (t.owner !== owner || FINISHED.has(t.status)) return { value: false, write: false };
        delete t.owner;
        t.status = "pending";
        return { value: true, write: true };
      });
    } catch (e) {
      if (e instanceof TeamsError && (e.code === "NOT_FOUND" || e.code === "CORRUPT")) continue;
      throw e;
    }
    if (r.value) released.push(r.task);
  }
  if (released.length) {
    await appendEvent(ctx, team, "task.recovered", { owner, reason, ids: released.map((t) => t.id) });
    const list = released.map((t) => `#${t.id} "${t.subject}"`).join(", ");
    await systemMessage(ctx, team, LEAD_NAME, `${released.length} task(s) of ${owner} back to pending`, `Tasks ${list} of ${owner} are pending again (owner cleared): ${reason}.`, "tasks_recovered").catch(() => undefined);
  }
  return released;
}
