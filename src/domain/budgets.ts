/**
 * Budgets: what each member's model calls used (tokens, cost, calls) and the
 * limits on it: a teammate's own budget (spawn_teammate `budget`, member
 * `budget`) and the team's (config `budget`, all teammates together; the
 * lead is the user's own session and counts only for itself). At 80 % of a
 * limit the teammate(s) and the lead are warned, at 100 % the teammate(s)
 * stop after their current turn; each once, decided atomically in one store
 * document ("budget"/"usage"), so it holds across restarts and processes.
 * Hosts report usage (the pi extension: each assistant message's usage).
 */
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { LEAD_NAME } from "../names.js";
import type { BudgetLimit, Member, TeamConfig } from "../schemas.js";
import { ev } from "./events.js";
import { systemMessage } from "./messages.js";
import { findMember, isLead, readTeam, requireMember, updateTeam } from "./teams.js";

export const BUDGET_COLL = "budget";
export const USAGE_KEY = "usage";
/** The share of a limit at which the warning goes out. */
export const WARN_AT = 0.8;

/** Usage so far, and when the warning and the stop were decided (ISO, store clock). */
export interface Account { tokens: number; costUsd: number; calls: number; warnedAt?: string; stoppedAt?: string }
/** A member's account; `agentId` ties it to one spawn of that name (a respawn starts a new account). */
export interface MemberAccount extends Account { agentId?: string }
export interface UsageDoc { members: Record<string, MemberAccount>; team: Account }

/** One model call's usage. */
export interface UsageDelta { tokens: number; costUsd: number }

/** A limit crossed by this call: warn (80 %) or stop (100 %), for one member or the whole team. */
export interface BudgetAlarm { scope: "member" | "team"; level: "warn" | "stop"; agent: string; used: Account; limit: BudgetLimit; share: number }

const zero = (): Account => ({ tokens: 0, costUsd: 0, calls: 0 });

/**
 * The usage of one pi assistant message (0.55 and 0.73 report the same
 * shape: input, output, cacheRead, cacheWrite, totalTokens, cost.total);
 * undefined when it reports none.
 */
export function usageOfMessage(message: unknown): UsageDelta | undefined {
  const u = (message as { usage?: { input?: number; output?: number; cacheRead?: number; cacheWrite?: number; totalTokens?: number; cost?: { total?: number } } } | undefined)?.usage;
  if (!u || typeof u !== "object") return undefined;
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) && x > 0 ? x : 0);
  const tokens = n(u.totalTokens) || n(u.input) + n(u.output) + n(u.cacheRead) + n(u.cacheWrite);
  return { tokens, costUsd: n(u.cost?.total) };
}

/** The larger share of a limit used (tokens or cost); 0 without a limit. */
export function shareOf(a: Account, limit: BudgetLimit | undefined): number {
  if (!limit) return 0;
  return Math.max(limit.tokens ? a.tokens / limit.tokens : 0, limit.cost_usd ? a.costUsd / limit.cost_usd : 0);
}

/** Marks the crossing (once) and returns the alarm; a raised limit re-arms the marks. */
function judge(a: Account, limit: BudgetLimit | undefined, at: string): "warn" | "stop" | undefined {
  const share = shareOf(a, limit);
  if (share < 1) delete a.stoppedAt;
  if (share < WARN_AT) delete a.warnedAt;
  if (share >= 1 && !a.stoppedAt) { a.stoppedAt = at; a.warnedAt ??= at; return "stop"; }
  if (share >= WARN_AT && !a.warnedAt) { a.warnedAt = at; return "warn"; }
  return undefined;
}

function memberEntry(doc: UsageDoc, m: Member | undefined, agent: string): MemberAccount {
  const cur = doc.members[agent];
  if (cur && (!m || !cur.agentId || cur.agentId === m.agentId)) return cur;
  return (doc.members[agent] = { ...zero(), ...(m ? { agentId: m.agentId } : {}) });
}

/** Adds one model call's usage to an agent's account (and the team's), deciding warnings and stops once. */
export async function recordUsage(ctx: Ctx, team: string, agent: string, delta: UsageDelta): Promise<{ member: MemberAccount; team: Account; alarms: BudgetAlarm[] }> {
  const cfg = await readTeam(ctx, team);
  const m = findMember(cfg, agent);
  const teammate = agent !== LEAD_NAME && m?.role !== "lead";
  const at = new Date(await ctx.store.now()).toISOString();
  const r = await ctx.store.editDoc<UsageDoc, { member: MemberAccount; team: Account; alarms: BudgetAlarm[] }>(team, BUDGET_COLL, USAGE_KEY, (cur) => {
    const doc: UsageDoc = cur ? structuredClone(cur) : { members: {}, team: zero() };
    doc.team ??= zero();
    doc.members ??= {};
    const mine = memberEntry(doc, m, agent);
    mine.tokens += delta.tokens;
    mine.costUsd += delta.costUsd;
    mine.calls += 1;
    const alarms: BudgetAlarm[] = [];
    const level = teammate ? judge(mine, m?.budget, at) : undefined;
    if (level) alarms.push({ scope: "member", level, agent, used: { ...mine }, limit: m!.budget!, share: shareOf(mine, m?.budget) });
    if (teammate) {
      doc.team.tokens += delta.tokens;
      doc.team.costUsd += delta.costUsd;
      doc.team.calls += 1;
      const tl = judge(doc.team, cfg.budget, at);
      if (tl) alarms.push({ scope: "team", level: tl, agent, used: { ...doc.team }, limit: cfg.budget!, share: shareOf(doc.team, cfg.budget) });
    }
    const events = alarms.map((a) => ({ actor: agent, kind: a.level === "stop" ? "budget.exhausted" : "budget.warned", data: { scope: a.scope, agent, tokens: a.used.tokens, costUsd: a.used.costUsd, limit: a.limit } }));
    return { value: { member: { ...mine }, team: { ...doc.team }, alarms }, write: doc, events };
  });
  for (const a of r.alarms) await announce(ctx, team, cfg, a).catch(() => undefined);
  return r;
}

/** "1,234 tokens, $0.0123" and, with a limit, "(62 % of 2,000 tokens)". */
export function fmtUsage(a: Pick<Account, "tokens" | "costUsd">, limit?: BudgetLimit): string {
  const used = `${Math.round(a.tokens).toLocaleString("en-US")} tokens, $${a.costUsd.toFixed(4)}`;
  if (!limit || (!limit.tokens && !limit.cost_usd)) return used;
  const of = [limit.tokens ? `${limit.tokens.toLocaleString("en-US")} tokens` : "", limit.cost_usd ? `$${limit.cost_usd}` : ""].filter(Boolean).join(" / ");
  return `${used} (${pctOf(shareOf({ ...a, calls: 0 }, limit))} % of ${of})`;
}

/** A share as whole percent, rounded down (1.15 → 115, not 114.99…). */
const pctOf = (share: number) => Math.floor(share * 100 + 1e-9);

/** Tells the members concerned (the lead always) that a limit was crossed. */
async function announce(ctx: Ctx, team: string, cfg: TeamConfig, a: BudgetAlarm): Promise<void> {
  const pct = `${pctOf(a.share)} %`;
  const used = fmtUsage(a.used, a.limit);
  const raise = `Raise it with \`clanker-teams budget ${team}${a.scope === "member" ? ` --agent ${a.agent}` : ""} --tokens N\` (a person's call), or respawn with a larger budget.`;
  const mates = cfg.members.filter((m) => m.role !== "lead").map((m) => m.name);
  if (a.scope === "member" && a.level === "warn") {
    await systemMessage(ctx, team, a.agent, `Budget ${pct} used`, `You have used ${used} of your budget. Finish your current task, report to ${LEAD_NAME}, and start nothing big: at 100 % you are stopped after your current turn.`, "budget_warning");
    await systemMessage(ctx, team, LEAD_NAME, `${a.agent}: budget ${pct} used`, `${a.agent} has used ${used} of its budget; it is stopped at 100 %. ${raise}`, "budget_warning");
  } else if (a.scope === "member") {
    await systemMessage(ctx, team, LEAD_NAME, `${a.agent}: budget exhausted`, `${a.agent} has used ${used} of its budget: it stops after its current turn, and its unfinished tasks go back to pending. ${raise}`, "budget_exhausted");
  } else if (a.level === "warn") {
    for (const to of [LEAD_NAME, ...mates]) await systemMessage(ctx, team, to, `Team budget ${pct} used`, `Team "${team}" has used ${used} of its team budget. At 100 % every teammate is stopped after its current turn.${to === LEAD_NAME ? ` ${raise}` : " Finish your current task and report."}`, "budget_warning");
  } else {
    await systemMessage(ctx, team, LEAD_NAME, "Team budget exhausted", `Team "${team}" has used ${used} of its team budget: every teammate stops after its current turn, and their unfinished tasks go back to pending. ${raise}`, "budget_exhausted");
  }
}

/** Why `agent` must stop (its own or the team's budget is used up), or undefined. */
export async function budgetStopReason(ctx: Ctx, team: string, agent: string): Promise<string | undefined> {
  const cfg = await ctx.store.getTeam(team);
  const m = cfg && findMember(cfg, agent);
  if (!cfg || !m || m.role === "lead") return undefined;
  const doc = await ctx.store.getDoc<UsageDoc>(team, BUDGET_COLL, USAGE_KEY);
  if (!doc) return undefined;
  const mine = doc.members?.[agent];
  if (mine?.stoppedAt && (!mine.agentId || mine.agentId === m.agentId) && shareOf(mine, m.budget) >= 1) return `its budget is used up (${fmtUsage(mine, m.budget)})`;
  if (doc.team?.stoppedAt && shareOf(doc.team, cfg.budget) >= 1) return `the team budget is used up (${fmtUsage(doc.team, cfg.budget)})`;
  return undefined;
}

/** The team budget's state when it is used up (spawning is refused then), else undefined. */
export async function teamBudgetUsedUp(ctx: Ctx, team: string, cfg: TeamConfig): Promise<string | undefined> {
  if (!cfg.budget) return undefined;
  const t = (await ctx.store.getDoc<UsageDoc>(team, BUDGET_COLL, USAGE_KEY))?.team;
  return t && shareOf(t, cfg.budget) >= 1 ? fmtUsage(t, cfg.budget) : undefined;
}

export interface UsageRow { agent: string; used: Account; limit?: BudgetLimit; share: number }

/** Every member's usage with its limit, and the team's. */
export async function usageReport(ctx: Ctx, team: string): Promise<{ members: UsageRow[]; team: UsageRow }> {
  const cfg = await readTeam(ctx, team);
  const doc = await ctx.store.getDoc<UsageDoc>(team, BUDGET_COLL, USAGE_KEY);
  const members = cfg.members.map((m) => {
    const e = doc?.members?.[m.name];
    const used = e && (!e.agentId || e.agentId === m.agentId) ? e : zero();
    return { agent: m.name, used, limit: m.budget, share: shareOf(used, m.budget) };
  });
  const t = doc?.team ?? zero();
  return { members, team: { agent: "(team)", used: t, limit: cfg.budget, share: shareOf(t, cfg.budget) } };
}

/** One member's usage row (zero when it has used nothing yet). */
export async function usageOf(ctx: Ctx, team: string, agent: string): Promise<UsageRow | undefined> {
  return (await usageReport(ctx, team)).members.find((r) => r.agent === agent);
}

/** Checks a budget given by a caller (tool, template, CLI): positive numbers, at least one of them. */
export function checkBudget(field: string, b: unknown): BudgetLimit | undefined {
  if (b === undefined || b === null) return undefined;
  if (typeof b !== "object" || Array.isArray(b)) throw invalid(field, "must be an object such as {\"tokens\": 500000} or {\"cost_usd\": 2}");
  const { tokens, cost_usd, ...rest } = b as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw invalid(field, `unknown key ${JSON.stringify(extra[0])}; use tokens and/or cost_usd`);
  const out: BudgetLimit = {};
  if (tokens !== undefined) { if (typeof tokens !== "number" || !(tokens > 0)) throw invalid(`${field}.tokens`, "must be a positive number"); out.tokens = tokens; }
  if (cost_usd !== undefined) { if (typeof cost_usd !== "number" || !(cost_usd > 0)) throw invalid(`${field}.cost_usd`, "must be a positive number of US dollars"); out.cost_usd = cost_usd; }
  if (out.tokens === undefined && out.cost_usd === undefined) throw invalid(field, "give tokens or cost_usd (or both)");
  return out;
}

/**
 * Sets (or, with `null`, removes) a member's or the team's budget; lead
 * only. A limit raised above the usage re-arms its warning and stop.
 */
export async function setBudget(ctx: Ctx, team: string, agent: string | undefined, limit: BudgetLimit | null): Promise<void> {
  const cfg = await readTeam(ctx, team);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} sets budgets; you are ${ctx.actor}.`);
  const name = agent === undefined ? undefined : requireMember(cfg, "agent", agent);
  if (name === LEAD_NAME) throw invalid("agent", "the lead has no budget of its own; set the team's (omit --agent) or a teammate's");
  const lim = limit === null ? null : checkBudget("budget", limit)!;
  await updateTeam(ctx, team, (c) => {
    const target = name === undefined ? c : findMember(c, name);
    if (!target) return { value: undefined, write: false };
    if (lim) target.budget = lim; else delete target.budget;
    return { value: undefined, write: true, events: [ev(ctx, "budget.set", { agent: name ?? null, limit: lim })] };
  });
  const after = await readTeam(ctx, team);
  await ctx.store.editDoc<UsageDoc, void>(team, BUDGET_COLL, USAGE_KEY, (cur) => {
    if (!cur) return { value: undefined };
    const doc = structuredClone(cur);
    const at = new Date(ctx.now()).toISOString();
    if (name === undefined) { if (doc.team) judgeQuiet(doc.team, after.budget, at); }
    else { const e = doc.members?.[name]; if (e) judgeQuiet(e, findMember(after, name)?.budget, at); }
    return { value: undefined, write: doc };
  });
}

/** Re-arms marks a raised limit no longer justifies (no new alarms: the next model call decides those). */
function judgeQuiet(a: Account, limit: BudgetLimit | undefined, _at: string): void {
  const share = shareOf(a, limit);
  if (share < 1) delete a.stoppedAt;
  if (share < WARN_AT) delete a.warnedAt;
}
