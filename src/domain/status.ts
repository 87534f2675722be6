/**
 * team_status: everything a member needs to know about its team in one call
 * (who it is, members and what they do, its tasks, tasks ready to claim, its
 * unread mail, reservations, open votes, where each milestone stands).
 */
import type { Ctx } from "../context.js";
import type { TaskSummary } from "../schemas.js";
import { frontierOf, listMilestones, type Frontier } from "./milestones.js";
import { livenessOf } from "./presence.js";
import { listReservations, type Reservation } from "./reservations.js";
import { readTeam, requireMember } from "./teams.js";
import { listVotes, type Proposal } from "./votes.js";

const DONE = new Set(["completed", "deleted"]);

export interface TeamStatus {
  team: string;
  description: string | null;
  me: { name: string; role: string };
  members: Array<{ name: string; role: string; state: string; alive: boolean; currentTask: string | null }>;
  /** My unfinished tasks. */
  myTasks: TaskSummary[];
  /** Pending, unowned tasks whose blockers are all done. */
  ready: TaskSummary[];
  unread: number;
  reservations: Reservation[];
  /** Open votes (and whether I still have to vote). */
  votes: Array<Pick<Proposal, "id" | "question" | "kind" | "rule" | "options" | "deadline" | "proposer"> & { myVote: string[] | null; mustVote: boolean; cast: number; voters: number }>;
  milestones: Frontier[];
}

/** The caller's view of a team. */
export async function teamStatus(ctx: Ctx, team: string): Promise<TeamStatus> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity; --as NAME in a shell)", ctx.actor);
  const tasks = (await ctx.store.listTasks(team)).filter((t) => t.status !== "deleted");
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const members = await Promise.all(cfg.members.map(async (m) => {
    const l = await livenessOf(ctx, await ctx.store.getPresence(team, m.name));
    const cur = tasks.find((t) => t.owner === m.name && (t.status === "in_progress" || t.status === "planning"));
    return { name: m.name, role: m.role, state: l.state, alive: l.alive, currentTask: cur?.id ?? null };
  }));
  const votes = (await listVotes(ctx, team)).filter((p) => p.status === "open").map((p) => ({
    id: p.id, question: p.question, kind: p.kind, rule: p.rule, options: p.options, deadline: p.deadline, proposer: p.proposer,
    myVote: p.votes[me]?.choice ?? null, mustVote: p.voters.includes(me) && !p.votes[me], cast: Object.keys(p.votes).length, voters: p.voters.length,
  }));
  const milestones: Frontier[] = [];
  for (const m of await listMilestones(ctx, team)) milestones.push(await frontierOf(ctx, team, m.name));
  return {
    team: cfg.name,
    description: cfg.description ?? null,
    me: { name: me, role: cfg.members.find((m) => m.name === me)?.role ?? "lead" },
    members,
    myTasks: tasks.filter((t) => t.owner === me && !DONE.has(t.status)),
    ready: tasks.filter((t) => t.status === "pending" && !t.owner && t.blockedBy.every((b) => { const x = byId.get(b); return !x || DONE.has(x.status); })),
    unread: await ctx.store.unreadCount(team, me),
    reservations: await listReservations(ctx, team),
    votes,
    milestones,
  };
}
