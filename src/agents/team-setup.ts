/**
 * Teams from templates (templates.ts): team_create with `template` creates
 * the team with the template's settings and spawns its members;
 * team_save_template writes a running team's settings and teammates as a
 * template. Member `cwd`s in a template are relative to the lead's working
 * directory.
 */
import fs from "node:fs";
import path from "node:path";
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { appendEvent } from "../domain/events.js";
import { checkBudget } from "../domain/budgets.js";
import { createTeam, isLead, readTeam, type CreateTeamInput } from "../domain/teams.js";
import { LEAD_NAME, validateName } from "../names.js";
import { repoRoot } from "../repo.js";
import type { TeamConfig } from "../schemas.js";
import { dataDir } from "../store/open.js";
import { spawnTeammate, type SpawnInput, type SpawnResult, type TeammateDeps } from "./teammates.js";
import { loadTemplate, saveTemplate, templatePaths, withDefaults, type Template, type TemplateMember } from "./templates.js";

/** The data directory templates are kept under (the JSON store's, else $CLANKER_TEAMS_DIR or ~/.clanker). */
function dataDirOf(ctx: Ctx): string {
  return ctx.store.kind === "json" ? ctx.store.location : dataDir(ctx.env);
}

/**
 * Agent kinds this build's spawn_teammate starts: pi and its fork clanker
 * (the team's agent command). Other kinds need spawn_teammate's `agent`
 * parameter, which this build does not have: refused before anything is created.
 */
const SPAWNABLE_KINDS = new Set(["pi", "clanker"]);

export interface TemplateTeamResult {
  team: TeamConfig;
  file: string;
  spawned: SpawnResult[];
  failed: Array<{ name: string; error: string }>;
}

/** Creates a team from a template and spawns its members (in order; a member that fails is reported, the others still start). */
export async function createTeamFromTemplate(ctx: Ctx, input: CreateTeamInput & { template: string; isolation?: "shared" | "worktree"; budget?: unknown }, deps: TeammateDeps = {}): Promise<TemplateTeamResult> {
  const { file, template: t } = loadTemplate(input.template, { cwd: ctx.cwd, dataDir: dataDirOf(ctx) });
  const members = t.members.map((m) => withDefaults(t, m));
  members.forEach((m, i) => {
    if (m.agent && !SPAWNABLE_KINDS.has(m.agent)) throw invalid(`${file}: members.${i}.agent`, `"${m.agent}" teammates cannot be spawned by this build (only pi or clanker, the team's agent command); remove "agent" or set it to pi`);
    const dir = path.resolve(ctx.cwd, m.cwd ?? ".");
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw invalid(`${file}: members.${i}.cwd`, `${JSON.stringify(dir)} is not an existing directory (cwd is relative to the lead's working directory)`);
  });
  const budget = checkBudget("budget", input.budget) ?? t.budget;
  const team = await createTeam(ctx, {
    team_name: input.team_name, description: input.description ?? t.description, default_model: input.default_model,
    settings: {
      isolation: input.isolation,
      budget,
      worktreeDir: t.worktree_dir === undefined ? undefined : path.resolve(ctx.cwd, t.worktree_dir),
      stuckAfterMs: t.stuck_after_s === undefined ? undefined : t.stuck_after_s * 1000,
      autoReserve: t.auto_reserve,
    },
  });
  await appendEvent(ctx, team.name, "team.template", { template: input.template, file, members: members.map((m) => m.name) });
  const spawned: SpawnResult[] = [];
  const failed: TemplateTeamResult["failed"] = [];
  for (const m of members) {
    try {
      spawned.push(await spawnTeammate(ctx, team.name, spawnInput(m), deps));
    } catch (e) {
      failed.push({ name: m.name, error: (e as Error).message });
    }
  }
  return { team: await readTeam(ctx, team.name), file, spawned, failed };
}

function spawnInput(m: TemplateMember): SpawnInput {
  return { name: m.name, prompt: m.prompt, cwd: m.cwd ?? ".", model: m.model, thinking: m.thinking, plan_mode_required: m.plan_mode_required, isolation: m.isolation, budget: m.budget };
}

/** Where team_save_template writes: the repository's .clanker/teams/ when the lead works in one, else the data dir's templates/. */
export function saveTarget(ctx: Ctx, name: string): string {
  const places = templatePaths(name, { cwd: ctx.cwd, dataDir: dataDirOf(ctx) });
  return fs.existsSync(path.join(repoRoot(ctx.cwd), ".git")) ? places[0]! : places[2]!;
}

/** Writes a running team's settings and teammates as template `name`; returns the file. Lead only; never overwrites. */
export async function saveTeamTemplate(ctx: Ctx, teamName: string, name: string): Promise<{ file: string; template: Template }> {
  validateName("name", name);
  const cfg = await readTeam(ctx, teamName);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} saves the team as a template; you are ${ctx.actor}.`);
  const mates = cfg.members.filter((m) => m.role !== "lead");
  if (!mates.length) throw invalid("team_name", `team "${cfg.name}" has no teammates to save; spawn them first`);
  const t: Template = {
    ...(cfg.description ? { description: cfg.description } : {}),
    ...(cfg.budget ? { budget: clean(cfg.budget) } : {}),
    ...(cfg.worktreeDir ? { worktree_dir: cfg.worktreeDir } : {}),
    ...(cfg.stuckAfterMs ? { stuck_after_s: Math.min(86_400, Math.max(10, Math.round(cfg.stuckAfterMs / 1000))) } : {}),
    ...(cfg.autoReserve === true ? { auto_reserve: true } : {}),
    members: mates.map((m) => {
      const origin = m.worktree ? path.join(m.worktree.repo, m.worktree.subdir ?? "") : m.cwd;
      const rel = origin ? path.relative(ctx.cwd, origin) : "";
      return {
        name: m.name,
        prompt: m.prompt?.trim() ? m.prompt : `You are ${m.name}; ask ${LEAD_NAME} for work.`,
        ...(rel ? { cwd: rel } : {}),
        ...(m.model ? { model: m.model } : {}),
        ...(m.thinking ? { thinking: m.thinking } : {}),
        ...(m.planModeRequired ? { plan_mode_required: true } : {}),
        ...(m.worktree ? { isolation: "worktree" } : {}),
        ...(m.budget ? { budget: clean(m.budget) } : {}),
      } as TemplateMember;
    }),
  };
  const file = saveTarget(ctx, name);
  saveTemplate(t, file);
  await appendEvent(ctx, cfg.name, "team.template_saved", { name, file });
  return { file, template: t };
}

/** A budget with only the keys a template knows. */
function clean(b: { tokens?: number; cost_usd?: number }): { tokens?: number; cost_usd?: number } {
  return { ...(b.tokens !== undefined ? { tokens: Math.round(b.tokens) } : {}), ...(b.cost_usd !== undefined ? { cost_usd: b.cost_usd } : {}) };
}
