/**
 * What the dashboard shows, read through the store interface only (both
 * stores, no second source of truth): members with their liveness, tasks with
 * plan state and dependencies, documents other modules keep (milestones,
 * reservations, votes, budgets: shown as they are, read defensively), mail.
 * Plain values for JSON; the page escapes nothing because it never parses HTML.
 */
import type { Ctx } from "../../context.js";
import { hostName, leaseMs, liveness } from "../../domain/presence.js";
import { readHistory } from "../../domain/messages.js";
import { isLead } from "../../domain/teams.js";
import type { Message, Runtime, Task, TaskSummary, TeamConfig } from "../../schemas.js";

/** Longest text of one field sent with the board (the task's own view fetches it whole). */
export const MAX_FIELD = 4000;
/** Longest message content sent to the page (the rest: clanker-teams call read_inbox). */
export const MAX_MESSAGE = 20_000;
/** Document collections shown when present: other modules may add them at any time. */
export const DOC_COLLECTIONS = ["milestones", "reservations", "votes", "budgets"] as const;

export interface TaskView {
  id: string; subject: string; description: string; status: string; owner: string | null;
  blockedBy: string[]; blocks: string[]; planStatus: string | null; plan: string | null; planFeedback: string | null;
  activeForm: string | null; hookFeedback: string | null; createdBy: string | null; createdAt: string; updatedAt: string;
  /** Some field was cut to MAX_FIELD characters. */
  cut: boolean;
}

export interface MemberView {
  name: string; role: string; model: string | null; planModeRequired: boolean;
  /** starting | idle | busy | error | stalled | dead | stopped | unknown (no presence). */
  state: string; alive: boolean; detail: string;
  host: string | null; pid: number | null; heartbeatAt: string | null; startedAt: string | null;
  currentTask: string | null; unread: number; error: string | null;
  /** usage / budget when the agent's presence carries them (any shape). */
  usage: unknown; budget: unknown;
}

export interface DocsView { [collection: string]: Array<{ key: string; value: unknown }> }

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function cutText(s: string | undefined | null, max: number): { text: string | null; cut: boolean } {
  if (typeof s !== "string") return { text: null, cut: false };
  return s.length > max ? { text: s.slice(0, max), cut: true } : { text: s, cut: false };
}

/** A task as the page shows it (long text cut unless `whole`). */
export function taskView(t: Task, whole = false): TaskView {
  const max = whole ? Infinity : MAX_FIELD;
  const d = cutText(t.description, max);
  const p = cutText(t.plan, max);
  const f = cutText(t.planFeedback, max);
  const h = cutText(t.hookFeedback, max);
  return {
    id: t.id, subject: t.subject, description: d.text ?? "", status: t.status, owner: t.owner ?? null,
    blockedBy: [...t.blockedBy], blocks: [...t.blocks], planStatus: t.planStatus ?? null, plan: p.text, planFeedback: f.text,
    activeForm: str(t.activeForm), hookFeedback: h.text, createdBy: str(t.createdBy), createdAt: String(t.createdAt), updatedAt: String(t.updatedAt),
    cut: d.cut || p.cut || f.cut || h.cut,
  };
}

/** Every task (deleted ones included), fetched in parallel; a task gone meanwhile is left out. */
export async function readAllTasks(ctx: Ctx, team: string, rows?: TaskSummary[]): Promise<Map<string, TaskView>> {
  const list = rows ?? (await ctx.store.listTasks(team));
  const out = new Map<string, TaskView>();
  const got = await Promise.all(list.map((r) => ctx.store.getTask(team, r.id)));
  for (const t of got) if (t) out.set(t.id, taskView(t));
  return out;
}

/** The members as the page shows them: liveness judged by the store's clock, as `status` does. */
export async function membersView(ctx: Ctx, team: string, cfg: TeamConfig, tasks: Map<string, TaskView>, now: number): Promise<MemberView[]> {
  const presence = new Map<string, Runtime>((await ctx.store.listPresence(team)).map((r) => [r.agent, r]));
  const host = hostName(ctx.env);
  const lease = leaseMs(ctx.env);
  return Promise.all(cfg.members.map(async (m) => {
    const rt = presence.get(m.name);
    const l = liveness(rt, now, { host, leaseMs: lease });
    const owned = [...tasks.values()].find((t) => t.owner === m.name && (t.status === "in_progress" || t.status === "planning"));
    const extra = (rt ?? {}) as Record<string, unknown>;
    return {
      name: m.name, role: m.role, model: m.model ?? null, planModeRequired: !!m.planModeRequired,
      state: l.state, alive: l.alive, detail: l.reason,
      host: rt?.host ?? null, pid: rt?.pid ?? null, heartbeatAt: rt ? String(rt.heartbeatAt) : null, startedAt: rt ? String(rt.startedAt) : null,
      currentTask: rt?.currentTask ?? owned?.id ?? null, unread: await ctx.store.unreadCount(team, m.name), error: rt?.error ?? null,
      usage: extra.usage ?? null, budget: extra.budget ?? null,
    };
  }));
}

/** Documents of the known collections, only those that have any (read as they are: their shape is their module's). */
export async function docsView(ctx: Ctx, team: string): Promise<DocsView> {
  const out: DocsView = {};
  for (const coll of DOC_COLLECTIONS) {
    const docs = await ctx.store.listDocs<unknown>(team, coll).catch(() => []);
    if (docs.length) out[coll] = docs.map((d) => ({ key: String(d.key), value: d.value }));
  }
  return out;
}

/** The team's config as the page needs it. */
export function teamInfo(cfg: TeamConfig, me: string) {
  return { name: cfg.name, description: cfg.description ?? null, lead: cfg.leadName, createdAt: String(cfg.createdAt), me, meIsLead: isLead(cfg, me), meIsMember: me === cfg.leadName || cfg.members.some((m) => m.name === me) };
}

export interface MailView { agent: string; messages: Array<Message & { cut?: boolean }>; nextBefore: number | null; total: number }

/** One page of a member's inbox (read and unread, newest last), never marking anything read. */
export async function mailView(ctx: Ctx, team: string, agent: string, before?: number): Promise<MailView> {
  const page = await readHistory(ctx, team, agent, { before, limit: 200 });
  return {
    agent,
    messages: page.messages.map((m) => (m.content.length > MAX_MESSAGE ? { ...m, content: m.content.slice(0, MAX_MESSAGE), cut: true } : m)),
    nextBefore: page.nextBefore ?? null,
    total: page.total,
  };
}
