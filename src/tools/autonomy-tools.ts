/** Tools for teams that run unattended: merging a worktree teammate's branch, saving a team as a template. */
import { z } from "zod";
import type { HookResult } from "../context.js";
import { defineTool } from "./define.js";

const team_name = z.string().describe("Team name");

/** spawn_teammate / team_create `isolation`. */
export const isolationParam = z.enum(["shared", "worktree"]).optional().describe("worktree: own git branch; default: team's");
/** spawn_teammate / team_create `budget`. */
export const budgetParam = z.object({ tokens: z.number().optional().describe("Tokens"), cost_usd: z.number().optional().describe("USD") });

/** A repo hook's outcome as one line (and its output), for tool results; "" when there was no hook. */
export function hookNote(name: string, h: HookResult | undefined): string {
  if (!h || h.outcome === "missing") return "";
  const head = { ok: `${name} hook passed`, veto: `${name} hook vetoed`, failed: `${name} hook failed (exit ${h.exitCode})`, timeout: `${name} hook timed out and was killed`, not_executable: `${name} hook is not executable and did not run`, broken: `${name} hook is broken and did not run`, missing: "", error: `${name} hook could not run` }[h.outcome];
  return `${head}${h.outputTail ? `:\n${h.outputTail}` : "."}`;
}

export const autonomyTools = [
  defineTool({
    name: "teammate_merge", label: "Merge teammate's branch", roles: ["lead"],
    description: "Merge a worktree teammate's branch into your branch; on conflict nothing is merged and the files are named.",
    params: z.object({ team_name, agent_name: z.string().describe("Teammate name"), mode: z.enum(["ff", "merge"]).optional().describe("ff only, or always a merge commit; default: ff if possible") }),
    example: { team_name: "checkout-rewrite", agent_name: "db-dev" },
    async run(ctx, a) {
      const { mergeTeammate } = await import("../agents/isolation.js");
      const r = await mergeTeammate(ctx, a.team_name, a.agent_name, a.mode);
      const dirty = r.uncommitted.length ? ` Not merged: ${r.uncommitted.length} uncommitted file(s) in its worktree (${r.uncommitted.slice(0, 5).join(", ")}); ask it to commit them.` : "";
      return { text: `${r.message}.${dirty}`, details: { ...r } };
    },
  }),
  defineTool({
    name: "team_save_template", label: "Save team as template", roles: ["lead"],
    description: "Save the team's settings and teammates as a template for team_create.",
    params: z.object({ team_name, name: z.string().describe("Template name") }),
    example: { team_name: "checkout-rewrite", name: "checkout-squad" },
    async run(ctx, a) {
      const { saveTeamTemplate } = await import("../agents/team-setup.js");
      const r = await saveTeamTemplate(ctx, a.team_name, a.name);
      return { text: `Saved template "${a.name}" (${r.template.members.length} teammate(s)) to ${r.file}.`, details: { file: r.file, template: r.template } };
    },
  }),
];
