/**
 * Stuck teammates: one that is alive and idle while it owns an in_progress
 * task for longer than the team's threshold (config `stuckAfterMs`, default
 * 3 minutes) is nudged once with the task; if it stays idle as long again,
 * the lead is told, once. Nothing else pings anyone: an idle teammate with no
 * work costs no model calls. Run by the lead's sweep; what was done is kept
 * in a store document per teammate ("stuck"/<name>), so several sweeping
 * processes and restarts nudge once.
 */
import type { Ctx } from "../context.js";
import { LEAD_NAME } from "../names.js";
import { timeMs, type Task, type TeamConfig } from "../schemas.js";
import { systemMessage } from "./messages.js";
import { hostName, leaseMs, liveness } from "./presence.js";

export const STUCK_COLL = "stuck";
/** Default threshold: idle this long with an in_progress task. */
export const STUCK_AFTER_MS = 180_000;

/** What was done about one teammate's task: nudged (when), lead told (when). */
export interface StuckDoc { task: string; nudgedAt?: string; toldLeadAt?: string }

export interface StuckAction { agent: string; task: string; action: "nudged" | "lead_told"; idleMs: number }

/** The team's threshold in ms. */
export function stuckAfterMs(cfg: TeamConfig): number {
  const v = cfg.stuckAfterMs;
  return typeof v === "number" && v > 0 ? v : STUCK_AFTER_MS;
}

const secs = (ms: number) => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/** One pass over the team's teammates; returns what it did. Never throws for a team that is gone. */
export async function sweepStuck(ctx: Ctx, team: string): Promise<StuckAction[]> {
  const cfg = await ctx.store.getTeam(team);
  if (!cfg) return [];
  const threshold = stuckAfterMs(cfg);
  const rows = (await ctx.store.listTasks(team)).filter((t) => t.owner && t.status === "in_progress");
  const docs = new Map((await ctx.store.listDocs<StuckDoc>(team, STUCK_COLL)).map((d) => [d.key, d.value]));
  const now = await ctx.store.now();
  const out: StuckAction[] = [];
  for (const m of cfg.members) {
    if (m.role === "lead") continue;
    const owned = rows.filter((t) => t.owner === m.name).map((t) => t.id);
    const doc = docs.get(m.name);
    if (doc && !owned.includes(doc.task)) {
      // That task is done, released or reassigned: forget it, so a later one starts fresh.
      await ctx.store.editDoc<StuckDoc, void>(team, STUCK_COLL, m.name, (cur) => ({ value: undefined, write: cur?.task === doc.task ? null : undefined }));
    }
    if (!owned.length) continue;
    const rt = await ctx.store.getPresence(team, m.name);
    if (!rt || rt.state !== "idle" || !rt.idleSince) continue;
    if (!liveness(rt, now, { host: hostName(ctx.env), leaseMs: leaseMs(ctx.env) }).alive) continue;
    const id = doc && owned.includes(doc.task) ? doc.task : owned[0]!;
    const task = await ctx.store.getTask(team, id);
    if (!task) continue;
    const since = Math.max(timeMs(rt.idleSince), timeMs(task.updatedAt) || 0);
    const cur = doc?.task === id ? doc : undefined;
    if (!cur?.nudgedAt) {
      if (now - since < threshold) continue;
      if (await mark(ctx, team, m.name, id, "nudgedAt", now)) {
        await systemMessage(ctx, team, m.name, `You are idle with task #${id} in progress`, nudgeText(task, now - since), "stuck_nudge").catch(() => undefined);
        out.push({ agent: m.name, task: id, action: "nudged", idleMs: now - since });
      }
    } else if (!cur.toldLeadAt) {
      const after = Math.max(since, timeMs(cur.nudgedAt));
      if (now - after < threshold) continue;
      if (await mark(ctx, team, m.name, id, "toldLeadAt", now)) {
        await systemMessage(ctx, team, LEAD_NAME, `${m.name} is stuck on task #${id}`,
          `${m.name} is alive but has been idle for ${secs(now - since)} while it owns task #${id} "${task.subject}" (in_progress), even after a nudge at ${cur.nudgedAt}. Look at it (check_teammate), reassign the task (task_update owner), or stop it.`, "teammate_stuck").catch(() => undefined);
        out.push({ agent: m.name, task: id, action: "lead_told", idleMs: now - since });
      }
    }
  }
  return out;
}

/** Sets `field` of the teammate's document for this task unless already set; true when this call set it. */
async function mark(ctx: Ctx, team: string, agent: string, task: string, field: "nudgedAt" | "toldLeadAt", now: number): Promise<boolean> {
  return ctx.store.editDoc<StuckDoc, boolean>(team, STUCK_COLL, agent, (cur) => {
    const doc: StuckDoc = cur?.task === task ? { ...cur } : { task };
    if (doc[field]) return { value: false };
    doc[field] = new Date(now).toISOString();
    return { value: true, write: doc, events: [{ actor: ctx.actor, kind: field === "nudgedAt" ? "teammate.nudged" : "teammate.stuck", data: { agent, task } }] };
  });
}

function nudgeText(t: Task, idleMs: number): string {
  const desc = t.description.length > 2000 ? `${t.description.slice(0, 2000)}…` : t.description;
  return `You have been idle for ${secs(idleMs)}, but task #${t.id} "${t.subject}" is yours and in_progress:\n${desc}\n\nContinue it now. If it is done, task_update it to completed; if you cannot finish it, task_release it with the reason, or tell ${LEAD_NAME} what blocks you.`;
}
