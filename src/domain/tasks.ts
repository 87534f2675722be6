/**
 * Tasks: the status rules, plans, claims, releases and dependencies. Every
 * change is a rule over one task (or, for dependency edges, a transaction over
 * several) that the store runs atomically with its events; a rule may run
 * more than once, so it only changes the copy it is given.
 *
 * Leases and fencing: a claim records the claimer's session (its host
 * process) and a lease epoch. When the lease sweep (presence.ts) or a kill
 * takes a task away from a session, that session is fenced off the task: if
 * the old process comes back (a host that was cut off), it cannot update,
 * complete or release that task any more; the error names the new owner.
 */
import type { Ctx, HookResult } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { TaskStatus, type Task, type TaskSummary } from "../schemas.js";
import type { Edit, Edited, TaskTx } from "../store/types.js";
import { LEAD_NAME, validateTaskId } from "../names.js";
import { appendEvent, ev } from "./events.js";
import { sendMessage, systemMessage } from "./messages.js";
import { afterWorkChanged } from "./milestones.js";
import { isLead, readTeam, requireMember } from "./teams.js";

export const MAX_SUBJECT_CHARS = 200;
export const MAX_DESCRIPTION_BYTES = 64 * 1024;
export const MAX_PLAN_BYTES = 64 * 1024;
/** Fence entries kept per task (the newest). */
const MAX_FENCES = 8;
export const FINISHED: ReadonlySet<TaskStatus> = new Set<TaskStatus>(["completed", "deleted"]);

/** The index row of a task. */
export function summaryOf(t: Task): TaskSummary {
  const s: TaskSummary = { id: t.id, subject: t.subject, status: t.status, blockedBy: [...t.blockedBy], blocks: [...t.blocks], createdAt: t.createdAt };
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

const byId = (a: string, b: string) => Number(a) - Number(b);
const iso = (ctx: Ctx) => new Date(ctx.now()).toISOString();

// ---------------------------------------------------------------------------
// Blockers: a rule decides on the statuses of a task's blockers, fetched before it runs.

/** What a rule knows of other tasks: their rows by id (null: no such task). */
type Rows = Map<string, TaskSummary | null>;

/** Thrown by a rule that needs rows it was not given; editWithRows fetches them and runs it again. */
class NeedRows extends Error {
  constructor(readonly ids: string[]) { super(`need rows ${ids.join(",")}`); }
}

/** Unfinished blockers of `t` (from `rows`; asks for missing ones with NeedRows). */
export function openBlockers(t: Task, rows: Rows): TaskSummary[] {
  const missing = t.blockedBy.filter((b) => !rows.has(b));
  if (missing.length) throw new NeedRows(missing);
  const open: TaskSummary[] = [];
  for (const b of t.blockedBy) {
    const r = rows.get(b);
    if (r && !FINISHED.has(r.status)) open.push(r);
  }
  return open;
}

/** editTask whose rule may look at other tasks' rows (see openBlockers). */
async function editWithRows<R>(ctx: Ctx, team: string, id: string, rule: (t: Task, rows: Rows) => Edit<R>, rows: Rows = new Map()): Promise<Edited<Task, R>> {
  for (let i = 0; ; i++) {
    try {
      return await ctx.store.editTask(team, id, (t) => rule(t, rows));
    } catch (e) {
      if (!(e instanceof NeedRows) || i > 20) throw e;
      for (const b of e.ids) {
        const t = await ctx.store.getTask(team, b);
        rows.set(b, t ? summaryOf(t) : null);
      }
    }
  }
}

/** Unfinished blockers of a task, read now. */
async function openBlockersNow(ctx: Ctx, team: string, t: Task): Promise<TaskSummary[]> {
  const rows: Rows = new Map();
  for (const b of t.blockedBy) {
    const x = await ctx.store.getTask(team, b);
    rows.set(b, x ? summaryOf(x) : null);
  }
  return openBlockers(t, rows);
}

function blockedError(t: { id: string }, open: TaskSummary[], wanted: string): TeamsError {
  const list = open.map((s) => `#${s.id} "${s.subject}" (${s.status}${s.owner ? `, ${s.owner}` : ""})`).join(", ");
  return new TeamsError("BLOCKED", `task ${t.id} cannot be ${wanted} while blocked by ${list}; finish those first or remove_blocked_by.`, { taskId: t.id, blockers: open.map((s) => s.id) });
}

// ---------------------------------------------------------------------------
// Who may edit: owners and the lead (anyone for an unowned task), never a fenced session.

/** A fence entry of the caller's session on this task, if its claim was taken away. */
function fenceOf(ctx: Ctx, t: Task) {
  return ctx.session ? t.fenced?.find((f) => f.agent === ctx.actor && f.session === ctx.session) : undefined;
}

function assertNotFenced(ctx: Ctx, t: Task): void {
  const f = fenceOf(ctx, t);
  if (!f) return;
  throw new TeamsError("FORBIDDEN", `task ${t.id}: your claim on it was taken away at ${f.at} (${f.reason}); ${t.owner ? `it is now owned by ${t.owner}. Ask ${LEAD_NAME} for other work or task_claim another task.` : "it is pending again: task_claim it if you still want it."}`, { taskId: t.id, owner: t.owner ?? null, fenced: true });
}

function assertMayEdit(ctx: Ctx, lead: boolean, t: Task): void {
  assertNotFenced(ctx, t);
  if (lead || !t.owner || t.owner === ctx.actor) return;
  throw new TeamsError("FORBIDDEN", `task ${t.id} is owned by ${t.owner}, not you (${ctx.actor}); if it was yours, it was released and reassigned. Ask ${LEAD_NAME} to reassign it, or task_claim another task.`, { taskId: t.id, owner: t.owner });
}

/** Takes the task away from its owner's session (lease lost, killed, reassigned by the lead): that session is fenced. */
function fence(ctx: Ctx, t: Task, reason: string): void {
  if (!t.owner || !t.claimSession) return;
  const entry = { agent: t.owner, session: t.claimSession, at: iso(ctx), reason };
  t.fenced = [...(t.fenced ?? []), entry].slice(-MAX_FENCES);
  delete t.claimSession;
}

/** The caller claims `t`: owner, in_progress, a new lease epoch for its session. */
function take(ctx: Ctx, t: Task): void {
  t.owner = ctx.actor;
  t.status = "in_progress";
  t.claimedAt = iso(ctx);
  t.epoch = (typeof t.epoch === "number" ? t.epoch : 0) + 1;
  if (ctx.session) t.claimSession = ctx.session;
  else delete t.claimSession;
  // A session that claims again is no longer fenced off it.
  if (t.fenced) {
    t.fenced = t.fenced.filter((f) => !(f.agent === ctx.actor && f.session === ctx.session));
    if (!t.fenced.length) delete t.fenced;
  }
}

function touch(ctx: Ctx, t: Task): void {
  t.updatedAt = iso(ctx);
}

function taskBrief(t: Task): string {
  return `#${t.id} "${t.subject}"\n${t.description}`;
}

// ---------------------------------------------------------------------------
// Dependencies (transactions only).

/** The dependency graph a transaction checks cycles on: id → blockedBy, kept current as edges are added. */
type Graph = Map<string, string[]>;

function checkCycle(graph: Graph, taskId: string, blockerId: string): void {
  // Adding "taskId is blocked by blockerId" closes a cycle if blockerId already (transitively) waits on taskId.
  const stack = [blockerId];
  const seen = new Set<string>();
  while (stack.length) {
    const cur = stack.pop()!;
    if (cur === taskId) throw new TeamsError("CONFLICT", `blocked_by: task ${taskId} blocked by ${blockerId} would make a dependency cycle (${blockerId} already waits on ${taskId}); remove one of the edges first.`, { taskId, blockerId });
    if (seen.has(cur)) continue;
    seen.add(cur);
    stack.push(...(graph.get(cur) ?? []));
  }
}

/** The task a blocker id names, if it may block task `taskId`. */
async function blockerOf(tx: TaskTx, team: string, taskId: string | undefined, blockerRaw: unknown, field: string): Promise<Task> {
  const b = validateTaskId(field, blockerRaw);
  if (b === taskId) throw invalid(field, `task ${taskId} cannot block itself`);
  const blocker = await tx.get(b);
  if (!blocker) throw new TeamsError("NOT_FOUND", `${field}: task "${b}" does not exist in team "${team}"; task_list shows the ids.`, { field, id: b });
  if (blocker.status === "deleted") throw invalid(field, `task ${b} is deleted and cannot block anything`);
  return blocker;
}

async function addBlocker(ctx: Ctx, tx: TaskTx, team: string, t: Task, blockerRaw: unknown, field: string, graph: Graph | undefined): Promise<void> {
  const blocker = await blockerOf(tx, team, t.id, blockerRaw, field);
  const b = blocker.id;
  if (t.blockedBy.includes(b)) return;
  if (graph) {
    checkCycle(graph, t.id, b);
    graph.set(t.id, [...(graph.get(t.id) ?? []), b]);
  }
  t.blockedBy = [...t.blockedBy, b];
  blocker.blocks = [...blocker.blocks, t.id];
  touch(ctx, blocker);
  tx.put(blocker);
}

async function removeBlocker(ctx: Ctx, tx: TaskTx, t: Task, blockerRaw: unknown, field: string, graph: Graph): Promise<void> {
  const b = validateTaskId(field, blockerRaw);
  if (!t.blockedBy.includes(b)) return;
  t.blockedBy = t.blockedBy.filter((x) => x !== b);
  graph.set(t.id, t.blockedBy);
  const blocker = await tx.get(b);
  if (blocker) {
    blocker.blocks = blocker.blocks.filter((x) => x !== t.id);
    touch(ctx, blocker);
    tx.put(blocker);
  }
}

// ---------------------------------------------------------------------------
// Operations

export interface CreateTaskInput { subject: string; description: string; status?: string; owner?: string; blocked_by?: unknown[] }

/**
 * Creates a task; returns it. Assigning an owner messages that owner. The
 * repo's task_created hook runs first (exit 2 refuses the creation with its
 * output as the reason); what it did is put in `out.hook`.
 */
export async function createTask(ctx: Ctx, team: string, input: CreateTaskInput, out: { hook?: HookResult } = {}): Promise<Task> {
  const cfg = await readTeam(ctx, team);
  const actor = requireMember(cfg, "caller (your identity)", ctx.actor);
  const subject = text("subject", input.subject, MAX_SUBJECT_CHARS);
  const description = text("description", input.description ?? "", MAX_DESCRIPTION_BYTES, { bytes: true, allowEmpty: true });
  const st = input.status === undefined ? "pending" : status("status", input.status);
  if (st === "deleted" || st === "completed") throw invalid("status", `a new task cannot start as ${st}; use pending`);
  const owner = input.owner === undefined || input.owner === "" ? undefined : requireMember(cfg, "owner", input.owner);
  if (input.blocked_by !== undefined && !Array.isArray(input.blocked_by)) throw invalid("blocked_by", "must be a list of task ids, e.g. [\"1\", \"2\"]");
  const fresh = (id: string): Task => {
    const now = iso(ctx);
    const t: Task = { id, subject, description, status: st, blocks: [], blockedBy: [], createdBy: actor, createdAt: now, updatedAt: now };
    if (owner) { t.owner = owner; t.claimedAt = now; }
    return t;
  };
  const created = (t: Task) => ev(ctx, "task.created", { id: t.id, subject, status: t.status, owner, blockedBy: t.blockedBy });
  const hook = await taskCreatedHook(ctx, team, cfg.hookTimeoutMs, { ...fresh(""), blockedBy: (input.blocked_by ?? []).map(String) });
  if (hook) out.hook = hook;
  let task: Task;
  if (input.blocked_by?.length) {
    // Edges on other tasks: a transaction. A new task has no dependents, so it can be in no cycle.
    task = await ctx.store.transact(team, async (tx) => {
      const blockers: Task[] = [];
      for (const b of input.blocked_by ?? []) blockers.push(await blockerOf(tx, team, undefined, b, "blocked_by"));
      const open = blockers.filter((b) => !FINISHED.has(b.status)).map(summaryOf);
      if (st === "in_progress" && open.length) throw blockedError({ id: "(new)" }, open, "started");
      const t = await tx.create(fresh);
      for (const b of input.blocked_by ?? []) await addBlocker(ctx, tx, team, t, b, "blocked_by", undefined);
      tx.put(t);
      tx.event(created(t));
      return t;
    });
  } else {
    task = await ctx.store.createTask(team, (id) => {
      const t = fresh(id);
      return { task: t, events: [created(t)] };
    });
  }
  if (hook) await appendEvent(ctx, team, "hook.ran", { taskId: task.id, hook: "task_created", outcome: hook.outcome, exitCode: hook.exitCode, durationMs: hook.durationMs, leftovers: hook.leftovers?.length || undefined });
  if (owner && owner !== actor) await notify(ctx, team, owner, `Task #${task.id} assigned to you`, `${actor} assigned you task ${taskBrief(task)}`, "task_assigned");
  return task;
}

/** The hook timeout: CLANKER_HOOK_TIMEOUT_MS, else the team's hookTimeoutMs, else 5 minutes. */
function hookTimeout(ctx: Ctx, cfgTimeout: number | undefined): number {
  const envTimeout = Number(ctx.env.CLANKER_HOOK_TIMEOUT_MS);
  return envTimeout > 0 ? envTimeout : cfgTimeout ?? 5 * 60_000;
}

/** Runs the task_created hook on the task about to be created (id ""): a veto (exit 2) throws with its output; undefined when there is none. */
async function taskCreatedHook(ctx: Ctx, team: string, cfgTimeout: number | undefined, draft: Task): Promise<HookResult | undefined> {
  if (!ctx.runHook) return undefined;
  const hook = await ctx.runHook({ hook: "task_created", team, task: draft, agent: ctx.actor, cwd: ctx.cwd, timeoutMs: hookTimeout(ctx, cfgTimeout), env: { ...ctx.env, ...ctx.store.childEnv() } });
  if (hook.outcome === "missing") return undefined;
  if (hook.outcome === "veto") {
    await appendEvent(ctx, team, "hook.ran", { hook: "task_created", outcome: "veto", exitCode: hook.exitCode, subject: draft.subject, durationMs: hook.durationMs });
    throw new TeamsError("FORBIDDEN", `task_create refused by the repo's task_created hook (exit 2)${hook.outputTail ? `:\n${hook.outputTail}` : "."}\nChange the task as it says and create it again.`, { hook: "task_created", outcome: "veto", output: hook.outputTail ?? "" });
  }
  return hook;
}

export interface ListFilter { status?: string; owner?: string; include_deleted?: boolean }

/** Task rows (deleted ones only when asked for), by id. */
export async function listTasks(ctx: Ctx, team: string, filter: ListFilter = {}): Promise<TaskSummary[]> {
  await readTeam(ctx, team);
  const st = filter.status === undefined ? undefined : status("status", filter.status);
  const owner = filter.owner === undefined || filter.owner === "" ? filter.owner : filter.owner.normalize("NFC");
  return (await ctx.store.listTasks(team))
    .filter((t) => (st ? t.status === st : t.status !== "deleted" || filter.include_deleted))
    .filter((t) => (owner === undefined ? true : owner === "" ? !t.owner : t.owner === owner));
}

/** One task (deleted ones too). */
export async function getTask(ctx: Ctx, team: string, id: unknown): Promise<Task> {
  await readTeam(ctx, team);
  const tid = validateTaskId("task_id", id);
  const t = await ctx.store.getTask(team, tid);
  if (!t) throw new TeamsError("NOT_FOUND", `task_id: task "${tid}" does not exist in team "${team}"; task_list shows the ids.`, { id: tid });
  return t;
}

export interface UpdateTaskInput {
  status?: string; owner?: string | null; subject?: string; description?: string; active_form?: string;
  add_blocked_by?: unknown[]; remove_blocked_by?: unknown[];
}

export interface UpdateResult {
  task: Task;
  changed: string[];
  /** Tasks that became unblocked because this one completed. */
  unblocked: TaskSummary[];
  /** Of those, the ids whose plan is approved: their owners were told to start. */
  ready?: string[];
  hook?: HookResult;
  vetoed?: boolean;
}

/** Changes only the fields given. Completing runs the completion hook (after the change is saved). */
export async function updateTask(ctx: Ctx, team: string, idRaw: unknown, input: UpdateTaskInput): Promise<UpdateResult> {
  const cfg = await readTeam(ctx, team);
  const actor = requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const lead = isLead(cfg, actor);
  const newStatus = input.status === undefined ? undefined : status("status", input.status);
  const subject = input.subject === undefined ? undefined : text("subject", input.subject, MAX_SUBJECT_CHARS);
  const description = input.description === undefined ? undefined : text("description", input.description, MAX_DESCRIPTION_BYTES, { bytes: true, allowEmpty: true });
  const activeForm = input.active_form === undefined ? undefined : text("active_form", input.active_form, MAX_SUBJECT_CHARS, { allowEmpty: true });
  let owner: string | null | undefined;
  if (input.owner !== undefined) {
    owner = input.owner === "" || input.owner === null ? null : requireMember(cfg, "owner", input.owner);
    if (!lead && owner !== null && owner !== actor) throw new TeamsError("FORBIDDEN", `owner: only ${LEAD_NAME} assigns tasks to others; you may set owner to yourself (${actor}) or use task_claim.`);
  }
  for (const f of ["add_blocked_by", "remove_blocked_by"] as const) {
    if (input[f] !== undefined && !Array.isArray(input[f])) throw invalid(f, "must be a list of task ids, e.g. [\"1\"]");
  }
  /** The field changes; `open` lists unfinished blockers. Returns the changed fields and the event. */
  const apply = (t: Task, open: (t: Task) => TaskSummary[], edgesChanged: boolean): { changed: string[]; event: ReturnType<typeof ev> } => {
    const before = { owner: t.owner, status: t.status };
    assertMayEdit(ctx, lead, t);
    if (t.status === "deleted" && newStatus !== undefined && newStatus !== "deleted") throw invalid("task_id", `task ${id} is deleted; create a new task instead`);
    const changed: string[] = [];
    if (subject !== undefined && subject !== t.subject) { t.subject = subject; changed.push("subject"); }
    if (description !== undefined && description !== t.description) { t.description = description; changed.push("description"); }
    if (activeForm !== undefined && activeForm !== (t.activeForm ?? "")) { if (activeForm) t.activeForm = activeForm; else delete t.activeForm; changed.push("activeForm"); }
    if (edgesChanged) changed.push("blockedBy");
    if (owner !== undefined && (owner ?? undefined) !== t.owner) {
      // The lead taking a task from a live owner: that owner's session may not go on with it.
      if (t.owner && t.owner !== actor) fence(ctx, t, `reassigned by ${actor}`);
      if (owner === null) { delete t.owner; delete t.claimSession; }
      else { t.owner = owner; t.claimedAt = iso(ctx); if (owner === actor && ctx.session) t.claimSession = ctx.session; else delete t.claimSession; }
      changed.push("owner");
    }
    if (newStatus !== undefined && newStatus !== t.status) {
      if (newStatus === "in_progress" || newStatus === "completed") {
        const blockers = open(t);
        if (blockers.length) throw blockedError(t, blockers, newStatus === "completed" ? "completed" : "started");
      }
      t.status = newStatus;
      if (newStatus === "completed") { t.completedAt = iso(ctx); delete t.hookFeedback; }
      changed.push("status");
    }
    if (changed.length) touch(ctx, t);
    return { changed, event: ev(ctx, "task.updated", { id, changed, status: t.status, owner: t.owner ?? null, from: before }) };
  };
  let res: { task: Task; changed: string[] };
  if ((input.add_blocked_by?.length ?? 0) + (input.remove_blocked_by?.length ?? 0)) {
    res = await ctx.store.transact(team, async (tx) => {
      const t = await tx.get(id);
      if (!t) throw new TeamsError("NOT_FOUND", `task_id: task "${id}" does not exist in team "${team}"; task_list shows the ids.`, { id });
      assertMayEdit(ctx, lead, t);
      const graph: Graph = new Map((await tx.list()).map((r) => [r.id, r.blockedBy]));
      const edgesBefore = t.blockedBy.join();
      for (const b of input.remove_blocked_by ?? []) await removeBlocker(ctx, tx, t, b, "remove_blocked_by", graph);
      for (const b of input.add_blocked_by ?? []) await addBlocker(ctx, tx, team, t, b, "add_blocked_by", graph);
      const rows: Rows = new Map();
      for (const b of t.blockedBy) { const x = await tx.get(b); rows.set(b, x ? summaryOf(x) : null); }
      const { changed, event } = apply(t, (x) => openBlockers(x, rows), t.blockedBy.join() !== edgesBefore);
      if (changed.length) { tx.put(t); tx.event(event); }
      return { task: t, changed };
    });
  } else {
    const r = await editWithRows(ctx, team, id, (t, rows) => {
      const { changed, event } = apply(t, (x) => openBlockers(x, rows), false);
      return { value: changed, write: changed.length > 0, events: [event] };
    });
    res = { task: r.current, changed: r.value };
  }
  const { task, changed } = res;
  if (changed.includes("owner") && task.owner && task.owner !== actor) {
    await notify(ctx, team, task.owner, `Task #${id} assigned to you`, `${actor} assigned you task ${taskBrief(task)}`, "task_assigned");
  }
  const result: UpdateResult = { task, changed, unblocked: [] };
  if (changed.includes("status") && task.status === "completed") await afterCompleted(ctx, team, cfg.hookTimeoutMs, result);
  if (changed.includes("status")) await afterWorkChanged(ctx, team); // a checkpoint may be safe now (or no longer)
  return result;
}

/** Runs the completion hook; on veto puts the task back, else reports and notifies unblocked tasks. */
async function afterCompleted(ctx: Ctx, team: string, cfgTimeout: number | undefined, result: UpdateResult): Promise<void> {
  const task = result.task;
  if (ctx.runHook) {
    const timeoutMs = hookTimeout(ctx, cfgTimeout);
    // The hook runs "after the task is saved": it may read the documented files (they follow the log within ~100 ms otherwise).
    await ctx.store.flush().catch(() => undefined);
    // The hook (and any clanker-teams CLI it calls) must reach this context's store, whatever the env says.
    const hook = await ctx.runHook({ team, task, agent: ctx.actor, cwd: ctx.cwd, timeoutMs, env: { ...ctx.env, ...ctx.store.childEnv() } });
    if (hook.outcome !== "missing") {
      result.hook = hook;
      await appendEvent(ctx, team, "hook.ran", { taskId: task.id, hook: "task_completed", outcome: hook.outcome, exitCode: hook.exitCode, durationMs: hook.durationMs, leftovers: hook.leftovers?.length || undefined });
    }
    if (hook.outcome === "veto") {
      result.vetoed = true;
      const feedback = `Completion vetoed by task_completed hook (exit 2):\n${hook.outputTail ?? ""}`.trim();
      result.task = (await ctx.store.editTask(team, task.id, (t) => {
        if (t.status !== "completed") return { value: undefined, write: false };
        t.status = "in_progress";
        delete t.completedAt;
        t.hookFeedback = feedback;
        touch(ctx, t);
        return { value: undefined, write: true, events: [ev(ctx, "task.completion_vetoed", { id: task.id, status: "in_progress" })] };
      })).current;
      return;
    }
  }
  // Which dependents did this completion unblock? One whose plan was approved while it was
  // blocked stayed pending (evaluatePlan): its owner may start it now.
  const ready = new Set<string>();
  for (const depId of task.blocks) {
    const dep = await ctx.store.getTask(team, depId);
    if (!dep || FINISHED.has(dep.status) || (await openBlockersNow(ctx, team, dep)).length) continue;
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
export async function notifyMember(ctx: Ctx, team: string, to: string, summary: string, content: string, kind: string): Promise<void> {
  try {
    if (to === ctx.actor) await systemMessage(ctx, team, to, summary, content, kind);
    else await sendMessage(ctx, team, { recipient: to, summary: summary.slice(0, 200), content, kind });
  } catch (e) {
    await appendEvent(ctx, team, "notify.failed", { to, summary, error: (e as Error).message }).catch(() => undefined);
  }
}
const notify = notifyMember;

/** Submits a plan: status planning, the lead gets the plan to approve. */
export async function submitPlan(ctx: Ctx, team: string, idRaw: unknown, planRaw: unknown): Promise<Task> {
  const cfg = await readTeam(ctx, team);
  const actor = requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const plan = text("plan", planRaw, MAX_PLAN_BYTES, { bytes: true });
  const lead = isLead(cfg, actor);
  const { current: task } = await ctx.store.editTask(team, id, (t) => {
    assertMayEdit(ctx, lead, t);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; plans are for unfinished tasks`);
    if (!t.owner) take(ctx, t);
    t.status = "planning";
    t.plan = plan;
    t.planStatus = "submitted";
    delete t.planFeedback;
    touch(ctx, t);
    return { value: undefined, write: true, events: [ev(ctx, "plan.submitted", { id, owner: t.owner })] };
  });
  if (!lead) await notify(ctx, team, LEAD_NAME, `Plan for task #${id} needs review`, `${actor} submitted a plan for task #${id} "${task.subject}". Approve or reject it with task_evaluate_plan.\n\nPlan:\n${plan}`, "plan_submitted");
  return task;
}

/** The lead approves (→ in_progress, feedback cleared; pending while still blocked) or rejects (→ in_progress with required feedback) a plan. */
export async function evaluatePlan(ctx: Ctx, team: string, idRaw: unknown, action: unknown, feedbackRaw?: unknown): Promise<{ task: Task; note?: string }> {
  const cfg = await readTeam(ctx, team);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} evaluates plans; you are ${ctx.actor}.`);
  const id = validateTaskId("task_id", idRaw);
  if (action !== "approve" && action !== "reject") throw invalid("action", `must be "approve" or "reject" (got ${JSON.stringify(action)})`);
  const feedback = feedbackRaw === undefined || feedbackRaw === "" ? undefined : text("feedback", feedbackRaw, MAX_PLAN_BYTES, { bytes: true });
  if (action === "reject" && !feedback) throw invalid("feedback", "is required to reject a plan: say what to change");
  const { current: task, value: note } = await editWithRows(ctx, team, id, (t, rows) => {
    let note: string | undefined;
    if (t.planStatus !== "submitted" || !t.plan) throw invalid("task_id", `task ${id} has no plan awaiting review (plan status: ${t.planStatus ?? "none"}); the owner submits one with task_submit_plan`);
    if (action === "approve") {
      t.planStatus = "approved";
      delete t.planFeedback;
      const open = openBlockers(t, rows);
      if (open.length) { t.status = "pending"; note = `approved, but still blocked by ${open.map((o) => "#" + o.id).join(", ")}: it stays pending until they complete`; }
      else t.status = "in_progress";
    } else {
      t.planStatus = "rejected";
      t.planFeedback = feedback;
      t.status = "in_progress";
    }
    touch(ctx, t);
    return { value: note, write: true, events: [ev(ctx, action === "approve" ? "plan.approved" : "plan.rejected", { id, owner: t.owner, feedback })] };
  });
  if (task.owner && task.owner !== ctx.actor) {
    await notify(ctx, team, task.owner, `Plan for task #${id} ${action === "approve" ? "approved" : "rejected"}`,
      action === "approve" ? `Your plan for task #${id} "${task.subject}" is approved${note ? ` (${note})` : ""}. Go ahead and implement it.` : `Your plan for task #${id} "${task.subject}" was rejected. Feedback:\n${feedback}\n\nRevise the plan and submit it again with task_submit_plan.`,
      action === "approve" ? "plan_approved" : "plan_rejected");
  }
  return { task, note };
}

/** Claims a task for the caller: the given one, or the oldest pending, unowned, unblocked one. Atomic across racing claimers. */
export async function claimTask(ctx: Ctx, team: string, idRaw?: unknown): Promise<{ task?: Task; reason?: string }> {
  const cfg = await readTeam(ctx, team);
  const actor = requireMember(cfg, "caller (your identity)", ctx.actor);
  const me = { ...ctx, actor };
  const wanted = idRaw === undefined || idRaw === null || idRaw === "" ? undefined : validateTaskId("task_id", idRaw);
  const claimed = (t: Task) => ev(me, "task.claimed", { id: t.id, owner: actor, epoch: t.epoch });
  if (wanted) {
    const r = await editWithRows(me, team, wanted, (t, rows) => {
      if (t.owner === actor && (t.status === "in_progress" || t.status === "planning") && !fenceOf(me, t)) return { value: "already", write: false };
      if (t.owner && t.owner !== actor) throw new TeamsError("CONFLICT", `task ${wanted} is already claimed by ${t.owner}; task_claim without task_id takes the next free task.`, { owner: t.owner });
      // A fenced session may take back a task given to its name, never one another session of that name holds now.
      if (t.owner === actor && fenceOf(me, t) && t.claimSession && t.claimSession !== me.session) throw new TeamsError("CONFLICT", `task ${wanted} is already claimed by ${t.owner} in another session (your claim on it was taken away); task_claim without task_id takes the next free task.`, { owner: t.owner });
      if (t.status !== "pending" && !(t.owner === actor && fenceOf(me, t))) throw new TeamsError("CONFLICT", `task ${wanted} is ${t.status}, not pending; only pending tasks can be claimed.`);
      const open = openBlockers(t, rows);
      if (open.length) throw blockedError(t, open, "claimed");
      take(me, t);
      touch(me, t);
      return { value: "claimed", write: true, events: [claimed(t)] };
    });
    return { task: r.current };
  }
  // The work queue: oldest candidate first; one a racer is taking is skipped (the store's SKIP LOCKED).
  const rows = await ctx.store.listTasks(team);
  const byIdRow = new Map(rows.map((r) => [r.id, r]));
  const done = (b: string) => { const s = byIdRow.get(b); return !s || FINISHED.has(s.status); };
  const candidates = rows.filter((s) => s.status === "pending" && !s.owner && s.blockedBy.every(done)).map((s) => s.id).sort(byId);
  const r = candidates.length ? await ctx.store.editFirst(team, candidates, (t) => {
    if (t.owner || t.status !== "pending" || !t.blockedBy.every(done)) return null;
    take(me, t);
    touch(me, t);
    return { value: true, write: true, events: [claimed(t)] };
  }, { status: "pending", unowned: true }) : undefined;
  if (r?.written) return { task: r.current };
  const pending = (await ctx.store.listTasks(team)).filter((s) => s.status === "pending");
  return { reason: !pending.length ? "no pending tasks" : `all ${pending.length} pending task(s) are owned or blocked` };
}

/** Gives a claimed task back: pending, owner cleared; the lead is told. */
export async function releaseTask(ctx: Ctx, team: string, idRaw: unknown, reason?: string): Promise<Task> {
  const cfg = await readTeam(ctx, team);
  const actor = requireMember(cfg, "caller (your identity)", ctx.actor);
  const id = validateTaskId("task_id", idRaw);
  const lead = isLead(cfg, actor);
  const why = reason === undefined ? undefined : text("reason", reason, 2000, { allowEmpty: true });
  const { current: task, value: prevOwner } = await ctx.store.editTask(team, id, (t) => {
    assertNotFenced(ctx, t);
    if (!t.owner) throw new TeamsError("CONFLICT", `task ${id} is not claimed by anyone; nothing to release.`);
    if (!lead && t.owner !== actor) throw new TeamsError("FORBIDDEN", `task ${id} is owned by ${t.owner}, not you (${actor}); only its owner or ${LEAD_NAME} can release it.`);
    if (FINISHED.has(t.status)) throw invalid("task_id", `task ${id} is ${t.status}; only unfinished tasks can be released`);
    const prev = t.owner;
    if (prev !== actor) fence(ctx, t, `released by ${actor}`);
    delete t.owner;
    delete t.claimSession;
    t.status = "pending";
    touch(ctx, t);
    return { value: prev, write: true, events: [ev(ctx, "task.released", { id, owner: prev, reason: why })] };
  });
  await afterWorkChanged(ctx, team);
  if (actor !== LEAD_NAME) await notify(ctx, team, LEAD_NAME, `Task #${id} released by ${actor}`, `${actor} released task #${id} "${task.subject}"; it is pending again.${why ? ` Reason: ${why}` : ""}`, "task_released");
  return task;
}

/**
 * Puts every unfinished task of `owner` back to pending with the owner
 * cleared, fencing the session that held it; logs it and tells the lead.
 */
export async function releaseTasksOf(ctx: Ctx, team: string, owner: string, reason: string): Promise<Task[]> {
  const released: Task[] = [];
  const ids = (await ctx.store.listTasks(team)).filter((s) => s.owner === owner && !FINISHED.has(s.status)).map((s) => s.id);
  for (const id of ids) {
    let r: Edited<Task, boolean>;
    try {
      r = await ctx.store.editTask(team, id, (t) => {
        if (t.owner !== owner || FINISHED.has(t.status)) return { value: false, write: false };
        fence(ctx, t, reason);
        delete t.owner;
        t.status = "pending";
        touch(ctx, t);
        return { value: true, write: true, events: [ev(ctx, "task.recovered", { owner, reason, ids: [t.id] })] };
      });
    } catch (e) {
      if (e instanceof TeamsError && e.code === "NOT_FOUND") continue;
      throw e;
    }
    if (r.value) released.push(r.current);
  }
  if (released.length) {
    const list = released.map((t) => `#${t.id} "${t.subject}"`).join(", ");
    await systemMessage(ctx, team, LEAD_NAME, `${released.length} task(s) of ${owner} back to pending`, `Tasks ${list} of ${owner} are pending again (owner cleared): ${reason}.`, "tasks_recovered").catch(() => undefined);
    await afterWorkChanged(ctx, team);
  }
  return released;
}
