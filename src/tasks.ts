/**
 * Tasks: one file per task plus the tasks.json index, all mutations of a
 * team's tasks under one lock (the index's), so id allocation, dependency
 * edges and claims are atomic across tasks. Status rules live here.
 */
import fs from "node:fs";
import type { Ctx } from "./context.js";
import { TeamsError, invalid } from "./errors.js";
import { appendEvent } from "./events.js";
import { sendMessage, systemMessage } from "./messages.js";
import {
  TaskIndexSchema, TaskSchema, TaskStatus, parseWith,
  type Task, type TaskIndex, type TaskSummary,
} from "./schemas.js";
import { readJson, writeJson } from "./store/json-file.js";
import { withLock } from "./store/lock.js";
import { LEAD_NAME, validateTaskId } from "./store/paths.js";
import { isLead, readTeam, requireMember } from "./teams.js";

export const MAX_SUBJECT_CHARS = 200;
export const MAX_DESCRIPTION_BYTES = 64 * 1024;
export const MAX_PLAN_BYTES = 64 * 1024;
const FINISHED = new Set<TaskStatus>(["completed", "deleted"]);

const checkTask = (v: unknown) => parseWith(TaskSchema, v, "task");
const checkIndex = (v: unknown) => parseWith(TaskIndexSchema, v, "task index");

function summary(t: Task): TaskSummary {
  const s: TaskSummary = { id: t.id, subject: t.subject, status: t.status, blockedBy: t.blockedBy, blocks: t.blocks, createdAt: t.createdAt };
  if (t.owner) s.owner = t.owner;
  return s;
}

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

/** A transaction over one team's tasks, holding the tasks lock. */
class Tx {
  private loaded = new Map<string, Task>();
  private dirty = new Set<string>();
  constructor(readonly ctx: Ctx, readonly team: string, readonly index: TaskIndex) {}

  has(id: string): boolean { return id in this.index.tasks; }

  get(id: string, field = "task_id"): Task {
    const cached = this.loaded.get(id);
    if (cached) return cached;
    if (!this.has(id)) {
      const ids = Object.keys(this.index.tasks);
      throw new TeamsError("NOT_FOUND", `${field}: task "${id}" does not exist in team "${this.team}"${ids.length ? ` (ids ${ids[0]}–${ids[ids.length - 1]})` : " (no tasks yet)"}; task_list shows the ids.`, { field, id });
    }
    const t = readJson(this.ctx.paths.taskFile(this.team, id), checkTask);
    if (!t) throw new TeamsError("NOT_FOUND", `${field}: task "${id}" is in the index but its file is missing; it may have been removed by hand.`, { field, id });
    this.loaded.set(id, t);
    return t;
  }

  put(t: Task): void {
    t.updatedAt = this.ctx.now();
    this.loaded.set(t.id, t);
    this.dirty.add(t.id);
    this.index.tasks[t.id] = summary(t);
  }

  allocateId(): string {
    // Never reuse an id, even if the index was lost or lags behind the files.
    for (;;) {
      const id = String(this.index.nextId);
      const file = this.ctx.paths.taskFile(this.team, id);
      if (!fs.existsSync(file)) break;
      if (!this.has(id)) {
        // A task file the index never heard of: show it rather than hide it.
        try { const t = readJson(file, checkTask); if (t) { this.index.tasks[id] = summary(t); this.indexChanged = true; } } catch { /* moved aside */ }
      }
      this.index.nextId++;
    }
    return String(this.index.nextId++);
  }

  commit(): void {
    if (!this.dirty.size && !this.indexChanged) return;
    // Index first, naming the task files about to be written: if this process
    // dies before they are all on disk, the next reader re-derives exactly
    // those rows from the files (the source of truth), so the index never
    // hides a task or shows a stale status. It is rebuildable, so no fsync.
    this.index.pending = [...this.dirty];
    writeJson(this.ctx.paths.taskIndex(this.team), this.index, { fsync: false });
    for (const id of this.dirty) writeJson(this.ctx.paths.taskFile(this.team, id), this.loaded.get(id));
  }
  indexChanged = false;

  /** Unfinished blockers of a task. */
  openBlockers(t: Task): TaskSummary[] {
    return t.blockedBy.map((b) => this.index.tasks[b]).filter((s): s is TaskSummary => !!s && !FINISHED.has(s.status));
  }
}

/** Re-reads the rows an interrupted commit may have left out of step with their task files. */
function healPending(ctx: Ctx, team: string, index: TaskIndex): boolean {
  if (!index.pending?.length) return false;
  let changed = false;
  for (const id of index.pending) {
    let t: Task | undefined;
    try { t = readJson(ctx.paths.taskFile(team, id), checkTask); } catch { t = undefined; /* corrupt: moved aside */ }
    const before = JSON.stringify(index.tasks[id]);
    if (t) index.tasks[id] = summary(t);
    else delete index.tasks[id]; // never written: its id stays burnt (nextId is past it)
    if (JSON.stringify(index.tasks[id]) !== before) changed = true;
  }
  if (changed) index.pending = [];
  return changed;
}

/** Loads the index, rebuilding it from the task files when missing or corrupt. */
function loadIndex(ctx: Ctx, team: string): { index: TaskIndex; rebuilt: boolean } {
  const file = ctx.paths.taskIndex(team);
  try {
    const idx = readJson(file, checkIndex);
    if (idx) return { index: idx, rebuilt: healPending(ctx, team, idx) };
  } catch (e) {
    if (!(e instanceof TeamsError && e.code === "CORRUPT")) throw e;
  }
  return { index: rebuildIndex(ctx, team), rebuilt: true };
}

/** Rebuilds tasks.json from the task files (the source of truth). */
export function rebuildIndex(ctx: Ctx, team: string): TaskIndex {
  const index: TaskIndex = { nextId: 1, tasks: {} };
  let names: string[] = [];
  try {
    names = fs.readdirSync(ctx.paths.tasksDir(team));
  } catch { /* no tasks yet */ }
  for (const n of names) {
    const m = /^task_([1-9][0-9]*)\.json$/.exec(n);
    if (!m) continue;
    index.nextId = Math.max(index.nextId, Number(m[1]) + 1);
    try {
      const t = readJson(ctx.paths.taskFile(team, m[1]), checkTask);
      if (t) index.tasks[t.id] = summary(t);
    } catch { /* corrupt task moved aside by readJson; its id stays burnt */ }
  }
  return index;
}

/** Runs `fn` in a transaction holding the team's tasks lock; writes what it changed. */
export async function inTasks<T>(ctx: Ctx, team: string, fn: (tx: Tx) => T): Promise<T> {
  readTeam(ctx, team);
  return withLock(ctx.paths.taskIndex(team), () => {
    // Deleted while we waited for the lock: do not resurrect the team's task files.
    if (!fs.existsSync(ctx.paths.teamConfig(team))) throw new TeamsError("NOT_FOUND", `team "${team}" was deleted.`, { team });
    const { index, rebuilt } = loadIndex(ctx, team);
    const tx = new Tx(ctx, team, index);
    tx.indexChanged = rebuilt;
    const r = fn(tx);
    tx.commit();
    return r;
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

function addBlocker(tx: Tx, t: Task, blockerRaw: unknown, field: string): void {
  const b = validateTaskId(field, blockerRaw);
  if (b === t.id) throw invalid(field, `task ${t.id} cannot block itself`);
  const blocker = tx.get(b, field);
  if (blocker.status === "deleted") throw invalid(field, `task ${b} is deleted and cannot block anything`);
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
  if (tx.has(b)) {
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
  const task = await inTasks(ctx, team, (tx) => {
    const now = ctx.now();
    const t: Task = { id: tx.allocateId(), subject, description, status: st, blocks: [], blockedBy: [], createdBy: ctx.actor, createdAt: now, updatedAt: now };
    if (owner) { t.owner = owner; t.claimedAt = now; }
    tx.index.tasks[t.id] = summary(t); // so cycle checks see it
    for (const b of input.blocked_by ?? []) addBlocker(tx, t, b, "blocked_by");
    if (st === "in_progress") { const open = tx.openBlockers(t); if (open.length) throw blockedError(t, open, "started"); }
    tx.put(t);
    return t;
  });
  await appendEvent(ctx, team, "task.created", { id: task.id, subject, status: task.status, owner, blockedBy: task.blockedBy });
  if (owner && owner !== ctx.actor) await notify(ctx, team, owner, `Task #${task.id} assigned to you`, `${ctx.actor} assigned you task ${taskBrief(task)}`, "task_assigned");
  return task;
}

export interface ListFilter { status?: string; owner?: string; include_deleted?: boolean }

/** Lists task summaries from the index (one file read); deleted tasks only when asked for. */
export function listTasks(ctx: Ctx, team: string, filter: ListFilter = {}): TaskSummary[] {
  readTeam(ctx, team);
  const st = filter.status === undefined ? undefined : status("status", filter.status);
  let index: TaskIndex;
  try {
    index = readJson(ctx.paths.taskIndex(team), checkIndex) ?? rebuildIndex(ctx, team);
    healPending(ctx, team, index);
  } catch (e) {
    if (!(e instanceof TeamsError && e.code === "CORRUPT")) throw e;
    index = rebuildIndex(ctx, team);
  }
  return Object.values(index.tasks)
    .filter((t) => (st ? t.status === st : t.status !== "deleted" || filter.include_deleted))
    .filter((t) => (filter.owner === undefined ? true : filter.owner === "" ? !t.owner : t.owner === filter.owner))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

/** Reads one task (including deleted ones). */
export function getTask(ctx: Ctx, team: string, id: unknown): Task {
  readTeam(ctx, team);
  const tid = validateTaskId("task_id", id);
  const t = readJson(ctx.paths.taskFile(team, tid), checkTask);
  if (!t) throw new TeamsError("NOT_FOUND", `task_id: task "${tid}" does not exist in team "${team}"; task_list shows the ids.`, { id: tid });
  return t;
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
  const res = await inTasks(ctx, team, (tx) => {
    const t = tx.get(id);
    before.owner = t.owner;
    before.status = t.status;
    assertMayEdit(ctx, lead, t);
    if (t.status === "deleted" && newStatus !== "deleted") throw invalid("task_id", `task ${id} is deleted; create a new task instead`);
    const changed: string[] = [];
    if (subject !== undefined && subject !== t.subject) { t.subject = subject; changed.push("subject"); }
    if (description !== undefined && description !== t.description) { t.description = description; changed.push("description"); }
    if (activeForm !== undefined && activeForm !== t.activeForm) { t.activeForm = activeForm || undefined; changed.push("activeForm"); }
    for (const b of input.remove_blocked_by ?? []) removeBlocker(tx, t, b, "remove_blocked_by");
    for (const b of input.add_blocked_by ?? []) addBlocker(tx, t, b, "add_blocked_by");
    if ((input.add_blocked_by?.length ?? 0) + (input.remove_blocked_by?.length ?? 0)) changed.push("blockedBy");
    if (owner !== undefined && (owner ?? undefined) !== t.owner) {
      if (owner === null) delete t.owner; else { t.owner = owner; t.claimedAt = ctx.now(); }
      changed.push("owner");
    }
    if (newStatus !== undefined && newStatus !== t.status) {
      if (newStatus === "in_progress" || newStatus === "completed") {
        const open = tx.openBlockers(t);
        if (open.length) throw blockedError(t, open, newStatus === "completed" ? "completed" : "started");
      }
      t.status = newStatus;
      if (newStatus === "completed") { t.completedAt = ctx.now(); delete t.hookFeedback; }
      changed.push("status");
    }
    if (changed.length) tx.put(t);
    return { task: t, changed };
  });
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
      result.task = await inTasks(ctx, team, (tx) => {
        const t = tx.get(task.id);
        if (t.status === "completed") {
          t.status = "in_progress";
          delete t.completedAt;
          t.hookFeedback = feedback;
          tx.put(t);
        }
        return t;
      });
      await appendEvent(ctx, team, "task.completion_vetoed", { id: task.id, status: result.task.status });
      return;
    }
  }
  // Which dependents did this completion unblock?
  const index = await inTasks(ctx, team, (tx) => tx.index);
  for (const depId of task.blocks) {
    const dep = index.tasks[depId];
    if (!dep || FINISHED.has(dep.status)) continue;
    const stillOpen = dep.blockedBy.filter((b) => index.tasks[b] && !FINISHED.has(index.tasks[b].status));
    if (stillOpen.length === 0) result.unblocked.push(dep);
  }
  if (result.unblocked.length) await appendEvent(ctx, team, "task.unblocked", { by: task.id, ids: result.unblocked.map((d) => d.id) });
  for (const dep of result.unblocked) {
    if (dep.owner && dep.owner !== ctx.actor) {
      await notify(ctx, team, dep.owner, `Task #${dep.id} is unblocked`, `Task #${dep.id} "${dep.subject}" is now unblocked: #${task.id} "${task.subject}" was completed by ${ctx.actor}.`, "task_unblocked");
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
  const task = await inTasks(ctx, team, (tx) => {
    const t = tx.get(id);
    assertMayEdit(ctx, lead, t);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; plans are for unfinished tasks`);
    if (!t.owner) { t.owner = ctx.actor; t.claimedAt = ctx.now(); }
    t.status = "planning";
    t.plan = plan;
    t.planStatus = "submitted";
    delete t.planFeedback;
    tx.put(t);
    return t;
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
  let note: string | undefined;
  const task = await inTasks(ctx, team, (tx) => {
    const t = tx.get(id);
    if (t.planStatus !== "submitted" || !t.plan) throw invalid("task_id", `task ${id} has no plan awaiting review (plan status: ${t.planStatus ?? "none"}); the owner submits one with task_submit_plan`);
    if (action === "approve") {
      t.planStatus = "approved";
      delete t.planFeedback;
      const open = tx.openBlockers(t);
      if (open.length) { t.status = "pending"; note = `approved, but still blocked by ${open.map((o) => "#" + o.id).join(", ")}: it stays pending until they complete`; }
      else t.status = "in_progress";
    } else {
      t.planStatus = "rejected";
      t.planFeedback = feedback;
      t.status = "in_progress";
    }
    tx.put(t);
    return t;
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
  const r = await inTasks(ctx, team, (tx) => {
    let t: Task | undefined;
    if (wanted) {
      t = tx.get(wanted);
      if (t.owner === ctx.actor && (t.status === "in_progress" || t.status === "planning")) return { task: t, already: true };
      if (t.owner && t.owner !== ctx.actor) throw new TeamsError("CONFLICT", `task ${wanted} is already claimed by ${t.owner}; task_claim without task_id takes the next free task.`, { owner: t.owner });
      if (t.status !== "pending") throw new TeamsError("CONFLICT", `task ${wanted} is ${t.status}, not pending; only pending tasks can be claimed.`);
      const open = tx.openBlockers(t);
      if (open.length) throw blockedError(t, open, "claimed");
    } else {
      const candidates = Object.values(tx.index.tasks)
        .filter((s) => s.status === "pending" && !s.owner && s.blockedBy.every((b) => !tx.index.tasks[b] || FINISHED.has(tx.index.tasks[b].status)))
        .sort((a, b) => Number(a.id) - Number(b.id));
      if (!candidates.length) {
        const all = Object.values(tx.index.tasks);
        const pending = all.filter((s) => s.status === "pending");
        const reason = !pending.length ? "no pending tasks" : `all ${pending.length} pending task(s) are owned or blocked`;
        return { reason };
      }
      t = tx.get(candidates[0].id);
    }
    t.owner = ctx.actor;
    t.status = "in_progress";
    t.claimedAt = ctx.now();
    tx.put(t);
    return { task: t };
  });
  if (r.task && !("already" in r)) await appendEvent(ctx, team, "task.claimed", { id: r.task.id, owner: ctx.actor });
  return { task: r.task, reason: r.reason };
}

/** Gives a claimed task back: pending, owner cleared; the lead is told. */
export async function releaseTask(ctx: Ctx, team: string, idRaw: unknown, reason?: string): Promise<Task> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const lead = isLead(cfg, ctx.actor);
  const why = reason === undefined ? undefined : text("reason", reason, 2000, { allowEmpty: true });
  const { task, prevOwner } = await inTasks(ctx, team, (tx) => {
    const t = tx.get(id);
    if (!t.owner) throw new TeamsError("CONFLICT", `task ${id} is not claimed by anyone; nothing to release.`);
    if (!lead && t.owner !== ctx.actor) throw new TeamsError("FORBIDDEN", `task ${id} is owned by ${t.owner}, not you (${ctx.actor}); only its owner or ${LEAD_NAME} can release it.`);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; only unfinished tasks can be released`);
    const prevOwner = t.owner;
    delete t.owner;
    t.status = "pending";
    tx.put(t);
    return { task: t, prevOwner };
  });
  await appendEvent(ctx, team, "task.released", { id, owner: prevOwner, reason: why });
  if (ctx.actor !== LEAD_NAME) await notify(ctx, team, LEAD_NAME, `Task #${id} released by ${ctx.actor}`, `${ctx.actor} released task #${id} "${task.subject}"; it is pending again.${why ? ` Reason: ${why}` : ""}`, "task_released");
  return task;
}

/** Puts every unfinished task of `owner` back to pending with the owner cleared; logs it and tells the lead. */
export async function releaseTasksOf(ctx: Ctx, team: string, owner: string, reason: string): Promise<Task[]> {
  const released = await inTasks(ctx, team, (tx) => {
    const out: Task[] = [];
    for (const s of Object.values(tx.index.tasks)) {
      if (s.owner !== owner || FINISHED.has(s.status)) continue;
      const t = tx.get(s.id);
      if (t.owner !== owner || FINISHED.has(t.status)) continue;
      delete t.owner;
      t.status = "pending";
      tx.put(t);
      out.push(t);
    }
    return out;
  });
  if (released.length) {
    await appendEvent(ctx, team, "task.recovered", { owner, reason, ids: released.map((t) => t.id) });
    const list = released.map((t) => `#${t.id} "${t.subject}"`).join(", ");
    await systemMessage(ctx, team, LEAD_NAME, `${released.length} task(s) of ${owner} back to pending`, `Tasks ${list} of ${owner} are pending again (owner cleared): ${reason}.`, "tasks_recovered").catch(() => undefined);
  }
  return released;
}
