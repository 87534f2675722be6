/** Team, task and message tools. */
import { z } from "zod";
import type { Ctx, HookResult } from "../context.js";
import { createTeam, readTeam } from "../domain/teams.js";
import { createTask, getTask, listTasks, updateTask, submitPlan, evaluatePlan, claimTask, releaseTask, type UpdateResult } from "../domain/tasks.js";
import { sendMessage, broadcastMessage, readInbox, unreadCount } from "../domain/messages.js";
import { recoverAbandoned } from "../domain/presence.js";
import { defineTool } from "./define.js";
import { budgetParam, hookNote, isolationParam } from "./autonomy-tools.js";
import { checkBudget } from "../domain/budgets.js";
import { TASK_STATUSES } from "../schemas.js";
import type { Message, Task, TaskStatus, TaskSummary } from "../schemas.js";

const team_name = z.string().describe("Team name");
const task_id = z.coerce.string().describe("Task id, e.g. \"3\"");
const idList = z.array(z.coerce.string());
const content = z.string().describe("Full message");
const summary = z.string().describe("5-10 word preview");
const color = z.string().optional().describe("Display color");

/** The status of a task by id, for showing which blockers are still open (undefined: not found). */
type StatusOf = (id: string) => TaskStatus | undefined;
const FINISHED: ReadonlySet<TaskStatus | undefined> = new Set(["completed", "deleted"]);

async function statusLookup(ctx: Ctx, team: string): Promise<StatusOf> {
  const byId = new Map((await listTasks(ctx, team, { include_deleted: true })).map((t) => [t.id, t.status]));
  return (id) => byId.get(id);
}

/** Blockers still unfinished (a missing one blocks nothing, as in tasks.ts). */
function openOf(ids: string[], statusOf: StatusOf): string[] {
  return ids.filter((b) => { const s = statusOf(b); return s !== undefined && !FINISHED.has(s); });
}

/** One task in full: only unfinished blockers count as "blocked by"; finished ones are listed as done. */
export function fmtTask(t: Task, statusOf: StatusOf): string {
  const lines = [`#${t.id} [${t.status}] ${t.subject}${t.owner ? ` (owner: ${t.owner})` : ""}`];
  const open = openOf(t.blockedBy, statusOf);
  const finished = t.blockedBy.filter((b) => !open.includes(b)).map((b) => `#${b} ${statusOf(b) === "deleted" ? "deleted" : "done"}`);
  if (open.length) lines.push(`blocked by: ${open.map((b) => "#" + b).join(", ")}${finished.length ? ` (${finished.join(", ")})` : ""}`);
  else if (finished.length) lines.push(`not blocked (${finished.join(", ")})`);
  if (t.blocks.length) lines.push(`blocks: ${t.blocks.map((b) => "#" + b).join(", ")}`);
  if (t.activeForm) lines.push(`now: ${t.activeForm}`);
  if (t.description) lines.push("", t.description);
  if (t.plan) lines.push("", `plan (${t.planStatus ?? "submitted"}):`, t.plan);
  if (t.planFeedback) lines.push("", "plan feedback:", t.planFeedback);
  if (t.hookFeedback) lines.push("", t.hookFeedback);
  return lines.join("\n");
}

function fmtSummary(t: TaskSummary, statusOf: StatusOf): string {
  const open = openOf(t.blockedBy, statusOf);
  return `#${t.id} [${t.status}] ${t.subject}${t.owner ? ` — ${t.owner}` : ""}${open.length ? ` (blocked by ${open.map((b) => "#" + b).join(", ")})` : ""}`;
}

export function fmtMessage(m: Message): string {
  return `From ${m.from} at ${m.timestamp} — ${m.summary}\n${m.content}`;
}

async function sweep(ctx: Ctx, team: string): Promise<string> {
  const rec = await recoverAbandoned(ctx, team).catch(() => []);
  return rec.map((r) => `Recovered ${r.tasks.map((t) => "#" + t.id).join(", ")}: ${r.reason}.`).join("\n");
}

function updateText(r: UpdateResult, me: string): string {
  const parts = [r.changed.length ? `Task #${r.task.id} updated (${r.changed.join(", ")}).` : `Task #${r.task.id} unchanged.`];
  if (r.hook) {
    const h = r.hook;
    const head = { ok: "completion hook passed", veto: "completion hook VETOED completion (exit 2): task is back in_progress", failed: `completion hook failed (exit ${h.exitCode}); the task stays completed`, timeout: "completion hook timed out and was killed", not_executable: "completion hook is not executable and did not run", broken: "completion hook is broken and did not run", missing: "", error: "completion hook could not run" }[h.outcome];
    parts.push(`${head}${h.outputTail ? `:\n${h.outputTail}` : "."}`);
  }
  const ready = new Set(r.ready ?? []);
  const told = (u: TaskSummary) => (u.owner === me ? (ready.has(u.id) ? " (yours; plan approved: start it now)" : " (yours)") : u.owner ? ` (${u.owner} ${ready.has(u.id) ? "told to start: plan approved" : "notified"})` : "");
  if (r.unblocked.length) parts.push(`Unblocked: ${r.unblocked.map((u) => `#${u.id} "${u.subject}"${told(u)}`).join(", ")}.`);
  parts.push(`Status: ${r.task.status}${r.task.owner ? `, owner: ${r.task.owner}` : ""}.`);
  return parts.join("\n");
}

export const coreTools = [
  defineTool({
    name: "team_create", label: "Create team", roles: ["lead"],
    description: "Create a team; you become its lead (team-lead).",
    params: z.object({
      team_name, description: z.string().optional().describe("What the team is for"), default_model: z.string().optional().describe("Model for teammates unless spawn_teammate names one"),
      template: z.string().optional().describe("Template to apply: spawns its members"), isolation: isolationParam, budget: budgetParam.optional().describe("All teammates together"),
    }),
    example: { team_name: "checkout-rewrite", description: "Rewrite the checkout flow" },
    async run(ctx, a) {
      if (a.template !== undefined) {
        const { createTeamFromTemplate } = await import("../agents/team-setup.js");
        const r = await createTeamFromTemplate(ctx, { ...a, template: a.template });
        const ok = r.spawned.map((s) => s.member.name);
        const bad = r.failed.map((f) => `${f.name}: ${f.error}`);
        return { text: `Team "${r.team.name}" created from ${r.file}; you are team-lead. Spawned: ${ok.length ? ok.join(", ") : "none"}.${bad.length ? `\nFailed to spawn:\n${bad.join("\n")}` : ""}`, details: { team: r.team, file: r.file, spawned: ok, failed: r.failed } };
      }
      const budget = checkBudget("budget", a.budget);
      const cfg = await createTeam(ctx, { ...a, settings: { isolation: a.isolation, budget } });
      return { text: `Team "${cfg.name}" created; you are team-lead.`, details: { team: cfg } };
    },
  }),
  defineTool({
    name: "team_delete", label: "Delete team", roles: ["lead"],
    description: "Stop the team's teammates and delete its config, tasks and messages.",
    params: z.object({ team_name }),
    example: { team_name: "checkout-rewrite" },
    async run(ctx, a) {
      const { stopTeamAndDelete } = await import("../agents/teammates.js");
      const out: { notes?: string[] } = {};
      const stopped = await stopTeamAndDelete(ctx, a.team_name, {}, out);
      return { text: `Team "${a.team_name}" deleted${stopped.length ? `; stopped ${stopped.join(", ")}` : ""}.${out.notes?.length ? `\n${out.notes.join("\n")}` : ""}`, details: { team: a.team_name, stopped, worktrees: out.notes ?? [] } };
    },
  }),
  defineTool({
    name: "read_config", label: "Read team config", roles: ["lead", "teammate"],
    description: "Show the team's config and members.",
    params: z.object({ team_name }),
    example: { team_name: "checkout-rewrite" },
    async run(ctx, a) {
      const cfg = await readTeam(ctx, a.team_name);
      const members = cfg.members.map((m) => `${m.name} (${m.role}${m.model ? `, ${m.model}` : ""})`).join(", ");
      return { text: `Team ${cfg.name}${cfg.description ? `: ${cfg.description}` : ""}\nMembers: ${members}`, details: { config: cfg } };
    },
  }),
  defineTool({
    name: "task_create", label: "Create task", roles: ["lead", "teammate"],
    description: "Create a task. Setting owner assigns it and messages that member.",
    params: z.object({
      team_name, subject: z.string().describe("One-line title"), description: z.string().describe("What to do and how to know it is done"),
      status: z.enum(["pending", "planning", "in_progress"]).optional().describe("Default pending"), owner: z.string().optional().describe("Member to assign it to"),
      blocked_by: idList.optional().describe("Ids of tasks that must complete first"),
    }),
    example: { team_name: "checkout-rewrite", subject: "Cart API", description: "POST /cart and DELETE /cart/:id" },
    moreExamples: [{ team_name: "checkout-rewrite", subject: "Cart API tests", description: "Cover POST /cart and DELETE /cart/:id", owner: "backend-dev", blocked_by: ["1"] }],
    async run(ctx, a) {
      const out: { hook?: HookResult } = {};
      const t = await createTask(ctx, a.team_name, a, out);
      const open = t.blockedBy.length ? openOf(t.blockedBy, await statusLookup(ctx, a.team_name)) : [];
      const hook = hookNote("task_created", out.hook);
      return { text: `Task #${t.id} created${t.owner ? `, assigned to ${t.owner}` : ""}${open.length ? `, blocked by ${open.map((b) => "#" + b).join(", ")}` : ""}.${hook ? `\n${hook}` : ""}`, details: { task: t, ...(out.hook ? { hook: out.hook } : {}) } };
    },
  }),
  defineTool({
    name: "task_list", label: "List tasks", roles: ["lead", "teammate"],
    description: "List tasks (deleted ones hidden unless status is \"deleted\"). Filter by status or owner.",
    params: z.object({ team_name, status: z.enum(TASK_STATUSES).optional().describe("Only this status"), owner: z.string().optional().describe("Only this owner; \"\" = unowned") }),
    example: { team_name: "checkout-rewrite", status: "pending" },
    async run(ctx, a) {
      const note = await sweep(ctx, a.team_name);
      const tasks = await listTasks(ctx, a.team_name, a);
      const statusOf = tasks.some((t) => t.blockedBy.length) ? await statusLookup(ctx, a.team_name) : () => undefined;
      const body = tasks.length ? tasks.map((t) => fmtSummary(t, statusOf)).join("\n") : "No tasks match.";
      return { text: note ? `${note}\n${body}` : body, details: { tasks } };
    },
  }),
  defineTool({
    name: "task_get", label: "Get task", roles: ["lead", "teammate"],
    description: "Show one task in full.",
    params: z.object({ team_name, task_id }),
    example: { team_name: "checkout-rewrite", task_id: "2" },
    async run(ctx, a) {
      const t = await getTask(ctx, a.team_name, a.task_id);
      const statusOf = await statusLookup(ctx, a.team_name);
      return { text: fmtTask(t, statusOf), details: { task: t, openBlockers: openOf(t.blockedBy, statusOf) } };
    },
  }),
  defineTool({
    name: "task_update", label: "Update task", roles: ["lead", "teammate"],
    description: "Change only the given fields. Completing runs the repo's completion hook; an unfinished blocker prevents start/complete. owner \"\" unassigns.",
    params: z.object({
      team_name, task_id,
      status: z.enum(TASK_STATUSES).optional().describe("New status"), owner: z.string().optional().describe("New owner; \"\" unassigns"), subject: z.string().optional().describe("New title"),
      description: z.string().optional().describe("New description"), active_form: z.string().optional().describe("What you are doing now, e.g. \"Running tests\""),
      add_blocked_by: idList.optional().describe("Ids of tasks to wait for"), remove_blocked_by: idList.optional().describe("Ids to stop waiting for"),
    }),
    example: { team_name: "checkout-rewrite", task_id: "1", status: "completed" },
    async run(ctx, a) {
      const r = await updateTask(ctx, a.team_name, a.task_id, a);
      return { text: updateText(r, ctx.actor), details: { task: r.task, changed: r.changed, unblocked: r.unblocked, hook: r.hook, vetoed: !!r.vetoed } };
    },
  }),
  defineTool({
    name: "task_claim", label: "Claim task", roles: ["lead", "teammate"],
    description: "Claim a task for yourself (in_progress): the given one, or the oldest pending, unowned, unblocked one.",
    params: z.object({ team_name, task_id: task_id.optional() }),
    example: { team_name: "checkout-rewrite" },
    async run(ctx, a) {
      const note = await sweep(ctx, a.team_name);
      const r = await claimTask(ctx, a.team_name, a.task_id);
      const text = r.task ? `Claimed:\n${fmtTask(r.task, await statusLookup(ctx, a.team_name))}` : `Nothing to claim: ${r.reason}.`;
      return { text: note ? `${note}\n${text}` : text, details: { task: r.task ?? null, reason: r.reason } };
    },
  }),
  defineTool({
    name: "task_release", label: "Release task", roles: ["lead", "teammate"],
    description: "Give a claimed task back (pending, unowned).",
    params: z.object({ team_name, task_id, reason: z.string().optional().describe("Why; the lead is told") }),
    example: { team_name: "checkout-rewrite", task_id: "1", reason: "needs DB access I do not have" },
    async run(ctx, a) {
      const t = await releaseTask(ctx, a.team_name, a.task_id, a.reason);
      return { text: `Task #${t.id} released; it is pending again.`, details: { task: t } };
    },
  }),
  defineTool({
    name: "send_message", label: "Send message", roles: ["lead", "teammate"],
    description: "Message one team member (team-lead is always valid).",
    params: z.object({ team_name, recipient: z.string().describe("Member name"), content, summary, color }),
    example: { team_name: "checkout-rewrite", recipient: "backend-dev", content: "Please also cover refunds.", summary: "Add refund tests" },
    async run(ctx, a) {
      const m = await sendMessage(ctx, a.team_name, a);
      return { text: `Sent to ${m.to}.`, details: { message: m } };
    },
  }),
  defineTool({
    name: "broadcast_message", label: "Broadcast", roles: ["lead", "teammate"],
    description: "Message every team member except you.",
    params: z.object({ team_name, content, summary, color }),
    example: { team_name: "checkout-rewrite", content: "Freeze: no pushes to main until 15:00.", summary: "Merge freeze" },
    async run(ctx, a) {
      const sent = await broadcastMessage(ctx, a.team_name, a);
      return { text: sent.length ? `Sent to ${sent.map((m) => m.to).join(", ")}.` : "No other members to send to.", details: { messages: sent } };
    },
  }),
  defineTool({
    name: "read_inbox", label: "Read inbox", roles: ["lead", "teammate"],
    description: "Read your inbox (unread only by default; marks them read). The lead may inspect another member's inbox without marking it.",
    params: z.object({ team_name, agent_name: z.string().optional().describe("Lead only: whose inbox to inspect"), unread_only: z.boolean().optional().describe("Default true") }),
    example: { team_name: "checkout-rewrite" },
    async run(ctx, a) {
      const r = await readInbox(ctx, a.team_name, a);
      const head = r.messages.length ? `${r.messages.length} message(s) for ${r.agent}:` : `No ${a.unread_only === false ? "" : "unread "}messages for ${r.agent}.`;
      return { text: [head, ...r.messages.map(fmtMessage)].join("\n\n"), details: { agent: r.agent, messages: r.messages, markedRead: r.markedRead, unread: r.markedRead ? 0 : await unreadCount(ctx, a.team_name, r.agent) } };
    },
  }),
  defineTool({
    name: "task_submit_plan", label: "Submit plan", roles: ["lead", "teammate"],
    description: "Submit your plan for a task (status planning); the lead approves or rejects it.",
    params: z.object({ team_name, task_id, plan: z.string().describe("Numbered steps") }),
    example: { team_name: "checkout-rewrite", task_id: "2", plan: "1. Add fixtures\n2. Test POST /cart\n3. Test DELETE /cart/:id" },
    async run(ctx, a) {
      const t = await submitPlan(ctx, a.team_name, a.task_id, a.plan);
      return { text: `Plan for task #${t.id} submitted; wait for the lead's decision in your inbox.`, details: { task: t } };
    },
  }),
  defineTool({
    name: "task_evaluate_plan", label: "Evaluate plan", roles: ["lead"],
    description: "Approve or reject a submitted plan (reject needs feedback).",
    params: z.object({ team_name, task_id, action: z.enum(["approve", "reject"]).describe("Decision"), feedback: z.string().optional().describe("What to change; required to reject") }),
    example: { team_name: "checkout-rewrite", task_id: "2", action: "approve" },
    async run(ctx, a) {
      const { task, note } = await evaluatePlan(ctx, a.team_name, a.task_id, a.action, a.feedback);
      return { text: `Plan for task #${task.id} ${a.action === "approve" ? "approved" : "rejected"}${note ? ` (${note})` : ""}; status ${task.status}.`, details: { task } };
    },
  }),
];
