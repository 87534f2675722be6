/** Teams and their members: who is in a team, who leads it, names that must stay distinct. */
import { nanoid } from "nanoid";
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import type { Member, TeamConfig } from "../schemas.js";
import type { Edit } from "../store/types.js";
import { lookAlikes, skeleton } from "../confusables.js";
import { LEAD_NAME, validateName } from "../names.js";
import { ev } from "./events.js";

/** A team's config, or NOT_FOUND naming the existing teams. */
export async function readTeam(ctx: Ctx, team: string): Promise<TeamConfig> {
  const name = validateName("team_name", team);
  const cfg = await ctx.store.getTeam(name);
  if (!cfg) {
    const teams = await ctx.store.listTeams().catch(() => [] as string[]);
    throw new TeamsError("NOT_FOUND", `team "${name}" does not exist; ${teams.length ? `teams: ${teams.join(", ")}` : "there are no teams yet"}. Create it with team_create.`, { team: name });
  }
  return cfg;
}

/** Names of all teams. */
export async function listTeams(ctx: Ctx): Promise<string[]> {
  return ctx.store.listTeams();
}

export interface CreateTeamInput {
  team_name: string; description?: string; default_model?: string;
  /** Further config fields (isolation, budget, worktreeDir, stuckAfterMs, autoReserve), written with the team. */
  settings?: Partial<Pick<TeamConfig, "isolation" | "budget" | "worktreeDir" | "stuckAfterMs">> & { autoReserve?: boolean };
}

/** Creates a team with the caller as its lead. */
export async function createTeam(ctx: Ctx, input: CreateTeamInput): Promise<TeamConfig> {
  const team = validateName("team_name", input.team_name);
  const now = new Date(ctx.now()).toISOString();
  const cfg: TeamConfig = {
    name: team,
    description: input.description,
    createdAt: now,
    leadName: LEAD_NAME,
    defaultModel: input.default_model,
    members: [{ name: LEAD_NAME, agentId: nanoid(12), role: "lead", cwd: ctx.cwd, joinedAt: now }],
  };
  for (const [k, v] of Object.entries(input.settings ?? {})) if (v !== undefined) (cfg as Record<string, unknown>)[k] = v;
  if (cfg.description === undefined) delete cfg.description;
  if (cfg.defaultModel === undefined) delete cfg.defaultModel;
  await ctx.store.createTeam(cfg, [ev(ctx, "team.created", { description: input.description, defaultModel: input.default_model, ...(input.settings ? { settings: input.settings } : {}) })]);
  return cfg;
}

/** Runs a rule on the config (NOT_FOUND when the team is gone). */
export async function updateTeam<R>(ctx: Ctx, team: string, rule: (cfg: TeamConfig) => Edit<R>): Promise<R> {
  const name = validateName("team_name", team);
  try {
    return (await ctx.store.editTeam(name, rule)).value;
  } catch (e) {
    if (e instanceof TeamsError && e.code === "NOT_FOUND") await readTeam(ctx, name); // the message that lists the teams
    throw e;
  }
}

/** Deletes a team's config, tasks, mail and log. Stopping teammates is the caller's job (agents/teammates.ts). */
export async function deleteTeam(ctx: Ctx, team: string): Promise<void> {
  await readTeam(ctx, team);
  await ctx.store.deleteTeam(validateName("team_name", team));
}

/** Finds a member by exact name (in NFC, as names are stored). */
export function findMember(cfg: TeamConfig, name: string): Member | undefined {
  const n = name.normalize("NFC");
  return cfg.members.find((m) => m.name === n);
}

/** Member names; the lead is always included. */
export function memberNames(cfg: TeamConfig): string[] {
  const names = cfg.members.map((m) => m.name);
  if (!names.includes(LEAD_NAME)) names.unshift(LEAD_NAME);
  return names;
}

/**
 * The member (or team-lead) whose name `name` cannot be told apart from:
 * the same ignoring case, or the same confusables skeleton. Exact matches come first.
 */
export function lookAlikeOf(cfg: TeamConfig, name: string): string | undefined {
  const lower = name.toLowerCase();
  const skel = skeleton(name);
  const names = memberNames(cfg);
  return names.find((n) => n === name) ?? names.find((n) => n.toLowerCase() === lower || skeleton(n) === skel);
}

/** Why two names look alike, for error messages: `(U+0435 looks like "e")`, or "". */
function lookAlikeWhy(name: string, other: string): string {
  if (name.toLowerCase() === other.toLowerCase()) return " (names are case-insensitive)";
  const chars = lookAlikes(name);
  return chars.length ? ` (${chars.join(", ")})` : "";
}

/** Fails unless `name` is a member (team-lead always is), listing the members; returns the name in NFC. */
export function requireMember(cfg: TeamConfig, field: string, raw: string): string {
  const name = validateName(field, raw);
  if (name === LEAD_NAME || findMember(cfg, name)) return name;
  const like = lookAlikeOf(cfg, name);
  const hint = like ? ` It only looks like member "${like}"${lookAlikeWhy(name, like)}: use "${like}" if you meant it.` : "";
  throw new TeamsError("NOT_FOUND", `${field}: "${name}" is not a member of team "${cfg.name}"; members: ${memberNames(cfg).join(", ")}.${hint}`, { field, members: memberNames(cfg), ...(like ? { lookAlike: like } : {}) });
}

/** True when the caller is the team's lead. */
export function isLead(cfg: TeamConfig, actor: string): boolean {
  return actor === LEAD_NAME || actor === cfg.leadName;
}

/**
 * The rule that adds a member: a name that cannot be told apart from another
 * member's or team-lead (same ignoring case, or a look-alike) is refused, so
 * names stay distinct on any file system and to anyone reading "From …".
 * `replace`: the agentId of the member of that name to replace (a dead
 * teammate); if it is no longer that one (another spawn replaced it
 * meanwhile), the name is taken.
 */
export function addMemberRule(cfg: TeamConfig, full: Member, replace?: string): void {
  const name = full.name;
  const like = lookAlikeOf(cfg, name);
  const clash = like === undefined ? undefined : findMember(cfg, like);
  if (clash && replace !== undefined && clash.name === name && clash.agentId !== replace) {
    throw new TeamsError("CONFLICT", `name: "${name}" was replaced by another spawn meanwhile; check_teammate shows it`, { name });
  }
  if (like !== undefined && (like === LEAD_NAME || clash?.role === "lead")) {
    throw invalid("name", like === name ? `"${name}" is the lead; choose another name` : `"${name}" looks like the lead "${like}"${lookAlikeWhy(name, like)}; choose a clearly different name`);
  }
  if (like !== undefined && !(replace !== undefined && like === name)) {
    throw invalid("name", like.toLowerCase() === name.toLowerCase()
      ? `"${name}" is already taken by member "${like}" (names are case-insensitive); choose another name`
      : `"${name}" looks like member "${like}"${lookAlikeWhy(name, like)}; choose a clearly different name`);
  }
  cfg.members = cfg.members.filter((x) => x.name !== name).concat(full);
}

/** Adds a member (see addMemberRule). */
export async function addMember(ctx: Ctx, team: string, member: Partial<Member> & { name: string; role: Member["role"] }, opts: { replace?: string } = {}): Promise<Member> {
  const name = validateName("name", member.name);
  const full: Member = { ...member, name, agentId: member.agentId ?? nanoid(12), joinedAt: member.joinedAt ?? new Date(ctx.now()).toISOString() };
  return updateTeam(ctx, team, (cfg) => {
    addMemberRule(cfg, full, opts.replace);
    return { value: full, write: true, events: [ev(ctx, "member.added", { name, role: full.role, model: full.model })] };
  });
}

/** Removes a member (the lead cannot be removed). Returns whether it existed. */
export async function removeMember(ctx: Ctx, team: string, raw: string, reason?: string): Promise<boolean> {
  const name = raw.normalize("NFC");
  if (name === LEAD_NAME) throw invalid("agent_name", "the lead cannot be removed; use team_delete to end the team");
  return updateTeam(ctx, team, (cfg) => {
    const before = cfg.members.length;
    cfg.members = cfg.members.filter((m) => m.name !== name);
    const existed = cfg.members.length !== before;
    return { value: existed, write: existed, events: [ev(ctx, "member.removed", { name, reason })] };
  });
}
