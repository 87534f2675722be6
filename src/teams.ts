/** Teams and their members: config.json under the team's lock. */
import fs from "node:fs";
import { nanoid } from "nanoid";
import type { Ctx } from "./context.js";
import { TeamsError, invalid } from "./errors.js";
import { appendEvent } from "./events.js";
import { TeamConfigSchema, parseWith, type Member, type TeamConfig } from "./schemas.js";
import { readJson, readJsonCached, removeTree, writeJson } from "./store/json-file.js";
import { withLock } from "./store/lock.js";
import { lookAlikes, skeleton } from "./confusables.js";
import { LEAD_NAME, validateName } from "./store/paths.js";
import { startTeamTickets } from "./task-ids.js";

function checkConfig(v: unknown): TeamConfig {
  return parseWith(TeamConfigSchema, v, "team config");
}

/** Reads a team's config, or fails with NOT_FOUND naming the existing teams. */
export function readTeam(ctx: Ctx, team: string): TeamConfig {
  validateName("team_name", team);
  const cfg = readJsonCached(ctx.paths.teamConfig(team), checkConfig);
  if (!cfg) {
    const teams = listTeams(ctx);
    throw new TeamsError("NOT_FOUND", `team "${team}" does not exist; ${teams.length ? `teams: ${teams.join(", ")}` : "there are no teams yet"}. Create it with team_create.`, { team });
  }
  return cfg;
}

/** Names of all teams in the data directory. */
export function listTeams(ctx: Ctx): string[] {
  try {
    return fs.readdirSync(ctx.paths.teamsRoot()).filter((n) => fs.existsSync(ctx.paths.teamConfig(n))).sort();
  } catch {
    return [];
  }
}

export interface CreateTeamInput { team_name: string; description?: string; default_model?: string }

/** Creates a team with the caller as its lead. */
export async function createTeam(ctx: Ctx, input: CreateTeamInput): Promise<TeamConfig> {
  const team = validateName("team_name", input.team_name);
  const file = ctx.paths.teamConfig(team);
  const cfg = await withLock(file, () => {
    if (readJson(file, checkConfig)) throw new TeamsError("CONFLICT", `team "${team}" already exists; pick another team_name or team_delete it first.`, { team });
    const now = ctx.now();
    const cfg: TeamConfig = {
      name: team,
      description: input.description,
      createdAt: now,
      leadName: LEAD_NAME,
      defaultModel: input.default_model,
      members: [{ name: LEAD_NAME, agentId: nanoid(12), role: "lead", cwd: ctx.cwd, joinedAt: now }],
    };
    writeJson(file, cfg);
    // A directory of a deleted team of that name may hold old task files: only a team without any starts at 1.
    if (!fs.existsSync(ctx.paths.tasksDir(team))) startTeamTickets(ctx, team);
    return cfg;
  });
  await appendEvent(ctx, team, "team.created", { description: input.description, defaultModel: input.default_model });
  return cfg;
}

/** Applies `fn` to the config under the team lock and saves the result. */
export async function updateTeam<T>(ctx: Ctx, team: string, fn: (cfg: TeamConfig) => T): Promise<T> {
  const file = ctx.paths.teamConfig(team);
  return withLock(file, () => {
    const cfg = readTeam(ctx, team);
    const result = fn(cfg);
    writeJson(file, cfg);
    return result;
  });
}

/** Deletes a team's config, tasks, inboxes and log. Stopping teammates is the caller's job (teammates.ts). */
export async function deleteTeam(ctx: Ctx, team: string): Promise<void> {
  readTeam(ctx, team);
  await withLock(ctx.paths.teamConfig(team), () => {
    removeTree(ctx.paths.tasksDir(team));
    removeTree(ctx.paths.messagesDir(team));
    removeTree(ctx.paths.teamDir(team));
  });
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
 * Adds a member; a name that cannot be told apart from another member's or
 * team-lead (same ignoring case, or a look-alike: confusables.ts) is refused,
 * so names stay distinct on any file system and to anyone reading "From …".
 * `replace`: the agentId of the member of that name to replace (a dead
 * teammate); if it is no longer that one (another spawn replaced it
 * meanwhile), the name is taken.
 */
export async function addMember(ctx: Ctx, team: string, member: Partial<Member> & { name: string; role: Member["role"] }, opts: { replace?: string } = {}): Promise<Member> {
  const name = validateName("name", member.name);
  const m = await updateTeam(ctx, team, (cfg) => {
    const like = lookAlikeOf(cfg, name);
    const clash = like === undefined ? undefined : findMember(cfg, like);
    if (clash && opts.replace !== undefined && clash.name === name && clash.agentId !== opts.replace) {
      throw new TeamsError("CONFLICT", `name: "${name}" was replaced by another spawn meanwhile; check_teammate shows it`, { name });
    }
    if (like !== undefined && (like === LEAD_NAME || clash?.role === "lead")) {
      throw invalid("name", like === name ? `"${name}" is the lead; choose another name` : `"${name}" looks like the lead "${like}"${lookAlikeWhy(name, like)}; choose a clearly different name`);
    }
    if (like !== undefined && !(opts.replace !== undefined && like === name)) {
      throw invalid("name", like.toLowerCase() === name.toLowerCase()
        ? `"${name}" is already taken by member "${like}" (names are case-insensitive); choose another name`
        : `"${name}" looks like member "${like}"${lookAlikeWhy(name, like)}; choose a clearly different name`);
    }
    const full: Member = { ...member, name, agentId: member.agentId ?? nanoid(12), joinedAt: member.joinedAt ?? ctx.now() };
    cfg.members = cfg.members.filter((x) => x.name !== name).concat(full);
    return full;
  });
  await appendEvent(ctx, team, "member.added", { name: m.name, role: m.role, model: m.model });
  return m;
}

/** Removes a member (the lead cannot be removed). Returns whether it existed. */
export async function removeMember(ctx: Ctx, team: string, raw: string, reason?: string): Promise<boolean> {
  const name = raw.normalize("NFC");
  if (name === LEAD_NAME) throw invalid("agent_name", "the lead cannot be removed; use team_delete to end the team");
  const existed = await updateTeam(ctx, team, (cfg) => {
    const before = cfg.members.length;
    cfg.members = cfg.members.filter((m) => m.name !== name);
    return cfg.members.length !== before;
  });
  if (existed) await appendEvent(ctx, team, "member.removed", { name, reason });
  return existed;
}
