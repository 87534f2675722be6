/** Coordination tools: file reservations, milestones and their frontier, votes, and one-call team status. */
import { z } from "zod";
import type { Ctx } from "../context.js";
import { TeamsError } from "../errors.js";
import { askFrontier, createMilestone, frontierOf, listMilestones, type Blocker, type Frontier } from "../domain/milestones.js";
import { releaseFiles, reserveFiles, type Reservation } from "../domain/reservations.js";
import { teamStatus, type TeamStatus } from "../domain/status.js";
import { castVote, closeVote, listVotes, proposeVote, VOTE_KINDS, VOTE_RULES, type Proposal } from "../domain/votes.js";
import { whereOf } from "../repo.js";
import { defineTool } from "./define.js";

const team_name = z.string().describe("Team name");
const strings = z.array(z.string());
const where = (ctx: Ctx) => whereOf(ctx.cwd);
type Esc = (s: unknown) => string;
const plain: Esc = (s) => String(s);

/** One reservation as a line. */
export function fmtReservation(r: Reservation, e: Esc = plain): string {
  return `${e(r.path)} — ${e(r.holder)} (${r.exclusive ? "exclusive" : "shared"}${r.reason ? `: ${e(r.reason)}` : ""}; since ${e(r.since)}${r.expiresAt ? `, until ${e(r.expiresAt)}` : ""})`;
}

/** One blocker of a checkpoint as text. */
export function fmtBlocker(b: Blocker, e: Esc = plain): string {
  const via = b.via ? ` [via ${e(b.via)}]` : "";
  if (b.kind === "task") return `task #${e(b.id)}${b.subject ? ` "${e(b.subject)}"` : ""} is ${e(b.status)}${b.owner ? ` (${e(b.owner)})` : ""}${via}`;
  return `${e(b.holder)} holds ${e(b.path)} (${b.exclusive ? "exclusive" : "shared"}${b.reason ? `: ${e(b.reason)}` : ""})${via}`;
}

/** Where a milestone stands, one line per checkpoint. */
export function fmtFrontier(f: Frontier, e: Esc = plain): string {
  const lines = [`Milestone ${e(f.milestone)}: frontier ${f.frontier === null ? "none (checkpoint 1 is not safe)" : `"${e(f.frontier)}"`}`];
  for (const c of f.checkpoints) lines.push(`${c.n}. ${e(c.name)}: ${c.safe ? "SAFE to finalize" : `not safe: ${c.blockers.map((b) => fmtBlocker(b, e)).join("; ")}`}`);
  return lines.join("\n");
}

/** A vote as text: question, state, result. */
export function fmtVote(p: Proposal, e: Esc = plain): string {
  const head = `Vote ${e(p.id)} [${p.status}] ${e(p.question)} (${p.kind}, ${p.rule}${p.kind === "yes_no" ? "" : `; options: ${p.options.map(e).join(", ")}`}; by ${e(p.proposer)}; ${Object.keys(p.votes).length} of ${p.voters.length} voted${p.status === "open" && p.deadline ? `; closes ${e(p.deadline)}` : ""})`;
  if (p.status === "open" || !p.result) return head;
  const r = p.result;
  return `${head}\nResult: ${r.winner === null ? "no decision" : `winner ${e(r.winner)}`}: ${e(r.reason)} (${p.closedBy ? e(p.closedBy) : "closed"})`;
}

/** team_status as text (e: how agent-written text is made safe for the output). */
export function fmtTeamStatus(s: TeamStatus, e: Esc = plain): string {
  const t = (x: { id: string; subject: string; status: string; owner?: string }) => `#${e(x.id)} [${x.status}] ${e(x.subject)}${x.owner ? ` — ${e(x.owner)}` : ""}`;
  const out = [`You are ${e(s.me.name)} (${s.me.role}) in team ${e(s.team)}${s.description ? `: ${e(s.description)}` : ""}. Unread messages: ${s.unread}.`];
  out.push(`Members: ${s.members.map((m) => `${e(m.name)} ${m.state}${m.currentTask ? ` #${e(m.currentTask)}` : ""}`).join(", ")}`);
  out.push(s.myTasks.length ? `Your tasks: ${s.myTasks.map(t).join("; ")}` : "Your tasks: none");
  out.push(s.ready.length ? `Ready to claim: ${s.ready.map(t).join("; ")}` : "Ready to claim: none");
  out.push(s.reservations.length ? `Reservations:\n${s.reservations.map((r) => `  ${fmtReservation(r, e)}`).join("\n")}` : "Reservations: none");
  if (s.votes.length) out.push(`Open votes:\n${s.votes.map((v) => `  ${e(v.id)}: ${e(v.question)} (${v.kind}${v.kind === "yes_no" ? "" : `: ${v.options.map(e).join(", ")}`}; ${v.cast}/${v.voters} voted${v.mustVote ? "; YOUR VOTE IS MISSING" : v.myVote ? `; you: ${v.myVote.map(e).join(" > ")}` : ""})`).join("\n")}`);
  for (const f of s.milestones) out.push(fmtFrontier(f, e));
  return out.join("\n");
}

const checkpoint = z.object({
  name: z.string().describe("Checkpoint name"),
  tasks: z.array(z.coerce.string()).optional().describe("Task ids"),
  paths: strings.optional().describe("Repo paths/globs its work touches"),
  depends_on: z.array(z.coerce.string()).optional().describe("Earlier checkpoints (names or numbers); default: the previous one"),
});

export const coordinationTools = [
  defineTool({
    name: "file_reserve", label: "Reserve files", roles: ["lead", "teammate"],
    description: "Reserve repo paths/globs (*, **, ?; dir/ = all below) before editing. Others' overlapping exclusive reservations refuse it (the error names who). Held until file_release, your exit or ttl_s.",
    params: z.object({
      team_name, paths: strings.describe("Repo-relative paths or globs"),
      exclusive: z.boolean().optional().describe("Default true; false: shared (others may share, none may take it exclusively)"),
      reason: z.string().optional().describe("Why, shown to others"), ttl_s: z.number().optional().describe("Lapse after this many seconds"),
    }),
    example: { team_name: "checkout-rewrite", paths: ["src/cart/**"], reason: "cart API" },
    moreExamples: [{ team_name: "checkout-rewrite", paths: ["docs/api.md"], exclusive: false, ttl_s: 600 }],
    async run(ctx, a) {
      const r = await reserveFiles(ctx, a.team_name, a, where(ctx));
      return { text: `Reserved: ${r.reserved.map((x) => fmtReservation(x)).join("; ")}.`, details: { reserved: r.reserved } };
    },
  }),
  defineTool({
    name: "file_release", label: "Release files", roles: ["lead", "teammate"],
    description: "Release your file reservations.",
    params: z.object({ team_name, paths: strings.optional().describe("As reserved; default: all of yours") }),
    example: { team_name: "checkout-rewrite", paths: ["docs/api.md"] },
    async run(ctx, a) {
      const r = await releaseFiles(ctx, a.team_name, a, where(ctx));
      const parts = [r.released.length ? `Released ${r.released.map((x) => x.path).join(", ")}.` : "You held nothing to release."];
      if (r.notHeld.length) parts.push(`Not yours: ${r.notHeld.join(", ")}.`);
      return { text: parts.join(" "), details: r };
    },
  }),
  defineTool({
    name: "milestone", label: "Milestone", roles: ["lead", "teammate"],
    description: "create: ordered checkpoints of tasks. status: is each checkpoint safe to finalize (its and its dependencies' tasks completed, no reservation on its work), and what blocks it. Asking about a checkpoint that is not safe: you are told when it is.",
    params: z.object({
      team_name, action: z.enum(["create", "status"]).describe("What to do"),
      name: z.string().optional().describe("Milestone name (status: default all)"),
      checkpoints: z.array(checkpoint).optional().describe("create: in order"),
      checkpoint: z.string().optional().describe("status: one checkpoint, name or number"),
    }),
    example: { team_name: "checkout-rewrite", action: "create", name: "v1", checkpoints: [{ name: "api", tasks: ["1"] }, { name: "tests", tasks: ["2"], paths: ["test/cart/**"] }] },
    moreExamples: [{ team_name: "checkout-rewrite", action: "status", name: "v1", checkpoint: "api" }],
    async run(ctx, a) {
      if (a.action === "create") {
        if (!a.name) throw new TeamsError("INVALID_INPUT", `name: is required to create a milestone`, { field: "name" });
        const r = await createMilestone(ctx, a.team_name, { name: a.name, checkpoints: a.checkpoints }, where(ctx));
        return { text: `Milestone ${r.milestone.name} ${r.created ? "created" : "redefined"}.\n${fmtFrontier(r.frontier)}`, details: { milestone: r.milestone, frontier: r.frontier } };
      }
      if (a.checkpoint !== undefined) {
        if (!a.name) throw new TeamsError("INVALID_INPUT", "name: is required with checkpoint", { field: "name" });
        const r = await askFrontier(ctx, a.team_name, a.name, a.checkpoint);
        const c = r.checkpoint;
        const text = c.safe ? `Checkpoint ${c.n} "${c.name}" of ${r.frontier.milestone} is SAFE to finalize.` : `Checkpoint ${c.n} "${c.name}" of ${r.frontier.milestone} is not safe: ${c.blockers.map((b) => fmtBlocker(b)).join("; ")}.${r.watching ? " You will get a message when it is." : ""}`;
        return { text, details: { frontier: r.frontier, checkpoint: c, safe: c.safe, watching: r.watching } };
      }
      const names = a.name ? [a.name] : (await listMilestones(ctx, a.team_name)).map((m) => m.name);
      const fs = [];
      for (const n of names) fs.push(await frontierOf(ctx, a.team_name, n));
      return { text: fs.length ? fs.map((f) => fmtFrontier(f)).join("\n\n") : "No milestones yet.", details: { milestones: fs } };
    },
  }),
  defineTool({
    name: "vote", label: "Vote", roles: ["lead", "teammate"],
    description: "propose a question to the team (kinds yes_no, single, ranked = instant-runoff); cast (or change) your vote; close (proposer/lead); list. Closes when all voted or at the deadline; everyone gets the result.",
    params: z.object({
      team_name, action: z.enum(["propose", "cast", "close", "list"]).describe("What to do"),
      question: z.string().optional().describe("propose: the question"), options: strings.optional().describe("propose: choices (not for yes_no)"),
      kind: z.enum(VOTE_KINDS).optional().describe("propose: default yes_no, single with options"), rule: z.enum(VOTE_RULES).optional().describe("propose: default majority"),
      voters: strings.optional().describe("propose: default every member"), deadline_s: z.number().optional().describe("propose: close after this many seconds"),
      proposal_id: z.coerce.string().optional().describe("cast/close: vote id"),
      choice: z.preprocess((v) => (typeof v === "string" ? [v] : v), strings).optional().describe("cast: e.g. [\"yes\"]; ranked: options best first"),
      comment: z.string().optional().describe("cast: why"),
    }),
    example: { team_name: "checkout-rewrite", action: "propose", question: "Which database?", options: ["postgres", "sqlite"], kind: "ranked" },
    moreExamples: [{ team_name: "checkout-rewrite", action: "cast", proposal_id: "1", choice: ["sqlite", "postgres"] }, { team_name: "checkout-rewrite", action: "list" }, { team_name: "checkout-rewrite", action: "close", proposal_id: "1" }],
    async run(ctx, a) {
      const need = (k: keyof typeof a) => { if (a[k] === undefined) throw new TeamsError("INVALID_INPUT", `${k}: is required to ${a.action}`, { field: k }); };
      if (a.action === "propose") {
        need("question");
        const p = await proposeVote(ctx, a.team_name, a);
        return { text: `${fmtVote(p)}\nVoters (told): ${p.voters.join(", ")}.`, details: { vote: p } };
      }
      if (a.action === "cast") {
        need("proposal_id"); need("choice");
        const p = await castVote(ctx, a.team_name, a);
        return { text: `Your vote on ${p.id} is recorded: ${a.choice!.join(" > ")}.\n${fmtVote(p)}`, details: { vote: p } };
      }
      if (a.action === "close") {
        need("proposal_id");
        const p = await closeVote(ctx, a.team_name, a.proposal_id);
        return { text: fmtVote(p), details: { vote: p } };
      }
      const all = await listVotes(ctx, a.team_name);
      return { text: all.length ? all.map((p) => fmtVote(p)).join("\n") : "No votes yet.", details: { votes: all } };
    },
  }),
  defineTool({
    name: "team_status", label: "Team status", roles: ["lead", "teammate"],
    description: "Everything about the team for you in one call: members, your tasks, tasks ready to claim, unread count, reservations, open votes, milestones.",
    params: z.object({ team_name }),
    example: { team_name: "checkout-rewrite" },
    async run(ctx, a) {
      const s = await teamStatus(ctx, a.team_name);
      return { text: fmtTeamStatus(s), details: { ...s } };
    },
  }),
];
