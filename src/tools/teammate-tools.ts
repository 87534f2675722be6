/** Teammate lifecycle tools (spawn, check, stop). */
import { z } from "zod";
import { THINKING_LEVELS } from "../schemas.js";
import { checkTeammate, forceKillTeammate, shutdownTeammate, spawnTeammate } from "../agents/teammates.js";
import { defineTool } from "./define.js";
import { AGENT_KINDS } from "../agents/kinds/types.js";
import { budgetParam, isolationParam } from "./autonomy-tools.js";
import { fmtUsage } from "../domain/budgets.js";
import { fmtWorktree } from "../agents/isolation.js";

const team_name = z.string().describe("Team name");
const agent_name = z.string().describe("Teammate name");

export const teammateTools = [
  defineTool({
    name: "spawn_teammate", label: "Spawn teammate", roles: ["lead"],
    description: "Start a teammate agent in a pane next to yours.",
    params: z.object({
      team_name, name: z.string().describe("Unique name, e.g. \"backend-dev\""), prompt: z.string().describe("Its assignment (first message)"), cwd: z.string().describe("Working directory"),
      model: z.string().optional().describe("provider/model; default: the team's"), thinking: z.enum(THINKING_LEVELS).optional().describe("Thinking level"),
      plan_mode_required: z.boolean().optional().describe("Must get a plan approved before edit/write/bash"),
      agent: z.enum(AGENT_KINDS).optional().describe("Agent CLI; default pi"),
      isolation: isolationParam, budget: budgetParam.optional().describe("Stopped when used up"),
    }),
    example: { team_name: "checkout-rewrite", name: "backend-dev", prompt: "Claim and do the API tasks; report to team-lead.", cwd: "." },
    moreExamples: [
      { team_name: "checkout-rewrite", name: "frontend-dev", prompt: "Build the cart page.", cwd: ".", model: "anthropic/claude-sonnet-4", thinking: "low", plan_mode_required: true },
      { team_name: "checkout-rewrite", name: "db-dev", prompt: "Write the cart migrations; commit on your branch.", cwd: ".", isolation: "worktree", budget: { tokens: 2000000, cost_usd: 5 } },
    ],
    async run(ctx, a) {
      const r = await spawnTeammate(ctx, a.team_name, a);
      const wt = r.member.worktree;
      const where = `${r.pane.kind} pane ${r.pane.paneId}${r.pane.pid ? ` (pid ${r.pane.pid})` : ""}${wt ? `, worktree ${wt.dir} on branch ${wt.branch}` : ""}`;
      return { text: `${r.replaced ? "Replaced dead teammate; s" : "S"}pawned ${a.name} in ${where}. ${r.attach}`, details: { member: r.member, pane: r.pane, argv: r.argv, attach: r.attach, replaced: r.replaced } };
    },
  }),
  defineTool({
    name: "check_teammate", label: "Check teammate", roles: ["lead", "teammate"],
    description: "Is a teammate running? Its state (starting/idle/busy/error/stalled/dead), unread count, current task, reservations, usage, branch.",
    params: z.object({ team_name, agent_name }),
    example: { team_name: "checkout-rewrite", agent_name: "backend-dev" },
    async run(ctx, a) {
      const s = await checkTeammate(ctx, a.team_name, a.agent_name);
      const held = s.reservations.length ? `; reserves ${s.reservations.map((r) => `${r.path}${r.exclusive ? "" : " (shared)"}`).join(", ")}` : "";
      const used = s.usage && (s.usage.used.calls || s.usage.limit) ? `\nUsage: ${fmtUsage(s.usage.used, s.usage.limit)} over ${s.usage.used.calls} model call(s)${s.usage.used.stoppedAt ? "; budget exhausted" : ""}.` : "";
      return { text: `${s.name}: ${s.running ? "running" : "not running"}, ${s.state} (${s.detail}); ${s.unread} unread${s.currentTask ? `; task #${s.currentTask}` : ""}${held}.${used}${s.worktree ? `\n${fmtWorktree(s.worktree)}` : ""}`, details: { ...s } };
    },
  }),
  defineTool({
    name: "force_kill_teammate", label: "Kill teammate", roles: ["lead"],
    description: "Kill a teammate's pane and process now, remove it, and put its unfinished tasks back to pending.",
    params: z.object({ team_name, agent_name }),
    example: { team_name: "checkout-rewrite", agent_name: "frontend-dev" },
    async run(ctx, a) {
      const r = await forceKillTeammate(ctx, a.team_name, a.agent_name);
      const done = r.actions.length ? ` (${r.actions.join("; ")})` : "";
      const head = r.exiting.length ? `${a.agent_name} removed, but process ${r.exiting.join(", ")} is still exiting${done}.` : `${a.agent_name} killed${done} and removed.`;
      return { text: `${head}${r.releasedTasks.length ? ` Tasks back to pending: ${r.releasedTasks.map((t) => "#" + t).join(", ")}.` : ""}${r.worktree ? ` ${r.worktree}.` : ""}`, details: r };
    },
  }),
  defineTool({
    name: "process_shutdown_approved", label: "Shut down teammate", roles: ["lead"],
    description: "Stop a teammate in order: it finishes its turn and exits (killed after a grace period), then is removed.",
    params: z.object({ team_name, agent_name }),
    example: { team_name: "checkout-rewrite", agent_name: "backend-dev" },
    async run(ctx, a) {
      const r = await shutdownTeammate(ctx, a.team_name, a.agent_name);
      const how = r.exited ? "exited" : r.killed ? "did not exit in time and was killed" : "is gone";
      const exiting = r.exiting.length ? ` Process ${r.exiting.join(", ")} is still exiting.` : "";
      return { text: `${a.agent_name} ${how} after ${(r.waitedMs / 1000).toFixed(1)} s and was removed.${exiting}${r.releasedTasks.length ? ` Tasks back to pending: ${r.releasedTasks.map((t) => "#" + t).join(", ")}.` : ""}${r.worktree ? ` ${r.worktree}.` : ""}`, details: r };
    },
  }),
];
