/**
 * Milestones and the frontier. A milestone is an ordered list of checkpoints,
 * each with its tasks, optionally the paths its work touches, and the earlier
 * checkpoints it depends on (by default the one before it).
 *
 * A checkpoint is safe to finalize when every task in it, and in every
 * checkpoint it depends on, is completed (or deleted), and no member holds a
 * reservation on its work: one overlapping its paths, or, for a checkpoint
 * without paths, any reservation of a member who owns one of its tasks. The
 * answer names each blocker (task and member, reservation and holder). It
 * never passes because an agent went quiet: a silent agent's claim still
 * blocks, and a dead agent's task goes back to pending (not completed).
 *
 * When a checkpoint becomes safe, the lead and the members who asked about
 * it get a message and the log records `milestone.safe` (once per
 * transition: a document edit decides who announces). The check runs where
 * work changes: task completion, task and reservation release, recovery.
 */
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { LEAD_NAME, validateName, validateTaskId } from "../names.js";
import type { TaskSummary } from "../schemas.js";
import { appendEvent, ev } from "./events.js";
import { normalizePattern, patternsOverlap } from "./globs.js";
import { systemMessage } from "./messages.js";
import { listReservations, type Reservation, type Where } from "./reservations.js";
import { findMember, readTeam, requireMember } from "./teams.js";

export interface Checkpoint {
  name: string;
  tasks: string[];
  paths: string[];
  dependsOn: string[];
  /** When it was announced safe (cleared if it stops being safe). */
  safeAt?: string;
  /** Members to tell when it becomes safe (those who asked while it was not). */
  watchers?: string[];
}

export interface Milestone {
  name: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  checkpoints: Checkpoint[];
}

export type Blocker =
  | { kind: "task"; id: string; subject?: string; status: string; owner?: string; via?: string }
  | { kind: "reservation"; holder: string; path: string; exclusive: boolean; reason?: string; since: string; via?: string };

export interface CheckpointState { n: number; name: string; safe: boolean; blockers: Blocker[]; tasks: string[]; paths: string[]; dependsOn: string[] }
export interface Frontier {
  milestone: string;
  checkpoints: CheckpointState[];
  /** The last checkpoint that is safe together with every one before it (null: not even the first). */
  frontier: string | null;
}

const COLL = "milestones";
const MAX_CHECKPOINTS = 50;
const MAX_TASKS = 200;
const DONE = new Set(["completed", "deleted"]);

export interface CheckpointInput { name?: unknown; tasks?: unknown; paths?: unknown; depends_on?: unknown }
export interface MilestoneInput { name: unknown; checkpoints: unknown }

/** Creates a milestone, or redefines one of that name (announcements and watchers of same-named checkpoints are kept). */
export async function createMilestone(ctx: Ctx, team: string, input: MilestoneInput, where: Where): Promise<{ milestone: Milestone; created: boolean; frontier: Frontier }> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const name = validateName("name", input.name);
  if (!Array.isArray(input.checkpoints) || !input.checkpoints.length) throw invalid("checkpoints", `must be a list of checkpoints, e.g. [{"name": "api", "tasks": ["1", "2"]}, {"name": "ui", "tasks": ["3"]}]`);
  if (input.checkpoints.length > MAX_CHECKPOINTS) throw invalid("checkpoints", `has ${input.checkpoints.length}; the limit is ${MAX_CHECKPOINTS}`);
  const tasks = new Map((await ctx.store.listTasks(team)).map((t) => [t.id, t]));
  const cps: Checkpoint[] = [];
  (input.checkpoints as CheckpointInput[]).forEach((raw, i) => {
    const f = `checkpoints[${i}]`;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalid(f, `must be an object such as {"name": "api", "tasks": ["1"]}`);
    const known = ["name", "tasks", "paths", "depends_on"];
    const extra = Object.keys(raw).find((k) => !known.includes(k));
    if (extra) throw invalid(`${f}.${extra}`, `unknown key; a checkpoint has ${known.join(", ")}`);
    const cpName = validateName(`${f}.name`, raw.name);
    if (cps.some((c) => c.name === cpName)) throw invalid(`${f}.name`, `"${cpName}" is used twice; checkpoint names must differ`);
    const ids = list(`${f}.tasks`, raw.tasks ?? [], MAX_TASKS).map((t, k) => {
      const id = validateTaskId(`${f}.tasks[${k}]`, t);
      if (!tasks.has(id)) throw new TeamsError("NOT_FOUND", `${f}.tasks[${k}]: task "${id}" does not exist in team "${team}"; task_list shows the ids.`, { field: `${f}.tasks[${k}]` });
      return id;
    });
    const paths = list(`${f}.paths`, raw.paths ?? [], 100).map((p, k) => normalizePattern(`${f}.paths[${k}]`, p, where));
    const deps = raw.depends_on === undefined ? (i > 0 ? [cps[i - 1]!.name] : []) : list(`${f}.depends_on`, raw.depends_on, MAX_CHECKPOINTS).map((d, k) => {
      const field = `${f}.depends_on[${k}]`;
      // A 1-based number or the name of an earlier checkpoint: the order keeps dependencies acyclic.
      const byNum = typeof d === "number" || (typeof d === "string" && /^\d+$/.test(d)) ? cps[Number(d) - 1] : undefined;
      const dep = byNum ?? cps.find((c) => c.name === d);
      if (!dep) throw invalid(field, `${JSON.stringify(d)} is not an earlier checkpoint; depend on checkpoints listed before this one (${cps.map((c) => c.name).join(", ") || "none"})`);
      return dep.name;
    });
    if (!ids.length && !paths.length && !deps.length) throw invalid(f, `"${cpName}" has no tasks, paths or dependencies; give it tasks`);
    cps.push({ name: cpName, tasks: [...new Set(ids)], paths: [...new Set(paths)], dependsOn: [...new Set(deps)] });
  });
  const now = new Date(ctx.now()).toISOString();
  const r = await ctx.store.editDoc<Milestone, { milestone: Milestone; created: boolean }>(team, COLL, name, (cur) => {
    const m: Milestone = { name, createdBy: cur?.createdBy ?? me, createdAt: cur?.createdAt ?? now, updatedAt: now, checkpoints: cps.map((c) => {
      const old = cur?.checkpoints.find((o) => o.name === c.name);
      return { ...c, ...(old?.safeAt ? { safeAt: old.safeAt } : {}), ...(old?.watchers?.length ? { watchers: old.watchers } : {}) };
    }) };
    return { value: { milestone: m, created: !cur }, write: m, events: [ev(ctx, cur ? "milestone.updated" : "milestone.created", { name, checkpoints: cps.map((c) => ({ name: c.name, tasks: c.tasks, dependsOn: c.dependsOn })) })] };
  });
  await checkFrontiers(ctx, team);
  return { ...r, frontier: await frontierOf(ctx, team, name) };
}

function list(field: string, v: unknown, max: number): unknown[] {
  if (!Array.isArray(v)) throw invalid(field, "must be a list");
  if (v.length > max) throw invalid(field, `has ${v.length} entries; the limit is ${max}`);
  return v;
}

/** Names of the team's milestones. */
export async function listMilestones(ctx: Ctx, team: string): Promise<Milestone[]> {
  return (await ctx.store.listDocs<Milestone>(team, COLL)).map((d) => d.value);
}

async function getMilestone(ctx: Ctx, team: string, raw: unknown): Promise<Milestone> {
  const name = validateName("name", raw);
  const m = await ctx.store.getDoc<Milestone>(team, COLL, name);
  if (!m) {
    const names = (await listMilestones(ctx, team)).map((x) => x.name);
    throw new TeamsError("NOT_FOUND", `name: milestone "${name}" does not exist in team "${team}"; ${names.length ? `milestones: ${names.join(", ")}` : "there are none yet: create one with milestone action \"create\""}.`, { field: "name" });
  }
  return m;
}

/** The checkpoint a name or 1-based number names. */
function findCheckpoint(m: Milestone, raw: unknown): Checkpoint {
  const s = typeof raw === "number" ? String(raw) : raw;
  const cp = typeof s === "string" ? (/^\d+$/.test(s) ? m.checkpoints[Number(s) - 1] : m.checkpoints.find((c) => c.name === s.normalize("NFC"))) : undefined;
  if (!cp) throw invalid("checkpoint", `${JSON.stringify(raw)} is not a checkpoint of milestone "${m.name}"; give a name or number: ${m.checkpoints.map((c, i) => `${i + 1} ${c.name}`).join(", ")}`);
  return cp;
}

/**
 * A consistent view of tasks and reservations: the reservations are read
 * before and after the tasks, and only a view where they did not change in
 * between is used (so the answer held at one instant).
 */
async function snapshot(ctx: Ctx, team: string): Promise<{ tasks: Map<string, TaskSummary>; reservations: Reservation[] } | undefined> {
  for (let i = 0; i < 5; i++) {
    const r1 = await listReservations(ctx, team);
    const tasks = await ctx.store.listTasks(team);
    const r2 = await listReservations(ctx, team);
    if (JSON.stringify(r1) === JSON.stringify(r2)) return { tasks: new Map(tasks.map((t) => [t.id, t])), reservations: r2 };
  }
  return undefined;
}

type View = NonNullable<Awaited<ReturnType<typeof snapshot>>>;

/** Every checkpoint's own blockers, then with its dependencies'. */
function judge(m: Milestone, view: View): CheckpointState[] {
  const own = new Map<string, Blocker[]>();
  for (const cp of m.checkpoints) {
    const b: Blocker[] = [];
    const owners = new Set<string>();
    for (const id of cp.tasks) {
      const t = view.tasks.get(id);
      if (t?.owner) owners.add(t.owner);
      if (t && DONE.has(t.status)) continue;
      b.push(t ? { kind: "task", id, subject: t.subject, status: t.status, ...(t.owner ? { owner: t.owner } : {}) } : { kind: "task", id, status: "missing" });
    }
    for (const r of view.reservations) {
      const onIt = cp.paths.length ? cp.paths.some((p) => patternsOverlap(p, r.path)) : owners.has(r.holder);
      if (onIt) b.push({ kind: "reservation", holder: r.holder, path: r.path, exclusive: r.exclusive, since: r.since, ...(r.reason ? { reason: r.reason } : {}) });
    }
    own.set(cp.name, b);
  }
  const all = (cp: Checkpoint, seen: Set<string>): Blocker[] => {
    const out = [...own.get(cp.name)!];
    for (const d of cp.dependsOn) {
      if (seen.has(d)) continue;
      seen.add(d);
      const dep = m.checkpoints.find((c) => c.name === d);
      if (dep) out.push(...all(dep, seen).map((b) => ({ ...b, via: b.via ?? d })));
    }
    return out;
  };
  return m.checkpoints.map((cp, i) => {
    const blockers = all(cp, new Set());
    return { n: i + 1, name: cp.name, safe: blockers.length === 0, blockers, tasks: cp.tasks, paths: cp.paths, dependsOn: cp.dependsOn };
  });
}

function frontierFrom(m: Milestone, states: CheckpointState[]): Frontier {
  let frontier: string | null = null;
  for (const s of states) { if (!s.safe) break; frontier = s.name; }
  return { milestone: m.name, checkpoints: states, frontier };
}

/** Where a milestone stands now. */
export async function frontierOf(ctx: Ctx, team: string, name: unknown): Promise<Frontier> {
  await readTeam(ctx, team);
  const m = await getMilestone(ctx, team, name);
  const view = await snapshot(ctx, team);
  if (!view) return frontierFrom(m, m.checkpoints.map((cp, i) => ({ n: i + 1, name: cp.name, safe: false, blockers: [{ kind: "task", id: "?", status: "changing (the team's reservations kept changing while reading; ask again)" }], tasks: cp.tasks, paths: cp.paths, dependsOn: cp.dependsOn })));
  return frontierFrom(m, judge(m, view));
}

/**
 * "Is this checkpoint safe to finalize?" for the caller: the answer, and if
 * it is not safe yet, the caller is told when it becomes safe.
 */
export async function askFrontier(ctx: Ctx, team: string, name: unknown, checkpoint: unknown): Promise<{ frontier: Frontier; checkpoint: CheckpointState; watching: boolean }> {
  const cfg = await readTeam(ctx, team);
  const m = await getMilestone(ctx, team, name);
  const cp = findCheckpoint(m, checkpoint);
  const f = await frontierOf(ctx, team, m.name);
  const st = f.checkpoints.find((c) => c.name === cp.name)!;
  let watching = false;
  const me = ctx.actor.normalize("NFC");
  if (!st.safe && me !== LEAD_NAME && findMember(cfg, me)) {
    watching = await ctx.store.editDoc<Milestone, boolean>(team, COLL, m.name, (cur) => {
      const c = cur?.checkpoints.find((x) => x.name === cp.name);
      if (!cur || !c) return { value: false };
      if (c.watchers?.includes(me)) return { value: true };
      c.watchers = [...(c.watchers ?? []), me];
      return { value: true, write: cur };
    });
  }
  if (st.safe && !cp.safeAt) await checkFrontiers(ctx, team);
  return { frontier: f, checkpoint: st, watching };
}

/**
 * Announces checkpoints that became safe (the lead and the members who asked
 * get a message; `milestone.safe` is logged) and forgets the announcement of
 * those no longer safe. Each transition is announced once, whoever checks.
 */
export async function checkFrontiers(ctx: Ctx, team: string): Promise<Array<{ milestone: string; checkpoint: string; told: string[] }>> {
  const ms = await listMilestones(ctx, team);
  if (!ms.length) return [];
  const view = await snapshot(ctx, team);
  if (!view) return [];
  const announced: Array<{ milestone: string; checkpoint: string; told: string[] }> = [];
  for (const m of ms) {
    const states = judge(m, view);
    const flip = states.filter((s) => s.safe !== !!m.checkpoints[s.n - 1]!.safeAt);
    if (!flip.length) continue;
    const at = new Date(await ctx.store.now()).toISOString();
    const r = await ctx.store.editDoc<Milestone, Array<{ checkpoint: string; told: string[] }>>(team, COLL, m.name, (cur) => {
      if (!cur) return { value: [] };
      const out: Array<{ checkpoint: string; told: string[] }> = [];
      const events = [];
      for (const s of flip) {
        const c = cur.checkpoints.find((x) => x.name === s.name);
        if (!c || s.safe === !!c.safeAt) continue; // someone else got there first, or the milestone was redefined
        if (s.safe) {
          const told = [...new Set([LEAD_NAME, ...(c.watchers ?? [])])];
          c.safeAt = at;
          delete c.watchers;
          out.push({ checkpoint: c.name, told });
          events.push(ev(ctx, "milestone.safe", { milestone: m.name, checkpoint: c.name, told }));
        } else {
          delete c.safeAt;
          events.push(ev(ctx, "milestone.unsafe", { milestone: m.name, checkpoint: c.name, blockers: s.blockers.length }));
        }
      }
      return events.length ? { value: out, write: cur, events } : { value: out };
    });
    for (const a of r) {
      announced.push({ milestone: m.name, ...a });
      const cp = m.checkpoints.find((c) => c.name === a.checkpoint)!;
      for (const to of a.told) {
        await systemMessage(ctx, team, to, `Checkpoint "${a.checkpoint}" of ${m.name} is safe`, `Checkpoint "${a.checkpoint}" of milestone "${m.name}" is safe to finalize: its tasks${cp.tasks.length ? ` (${cp.tasks.map((t) => "#" + t).join(", ")})` : ""} and those it depends on are completed and nobody holds a reservation on its work.`, "checkpoint_safe").catch(() => undefined);
      }
    }
  }
  return announced;
}

/** checkFrontiers after work changed, never failing the change that caused it. */
export async function afterWorkChanged(ctx: Ctx, team: string): Promise<void> {
  try {
    await checkFrontiers(ctx, team);
  } catch (e) {
    await appendEvent(ctx, team, "milestone.check_failed", { error: (e as Error).message }).catch(() => undefined);
  }
}
