/**
 * File reservations: a member reserves repository paths or globs, exclusively
 * (nobody else may reserve an overlapping path) or shared (others may share,
 * nobody may take it exclusively). All of a team's reservations are one store
 * document edited by one rule, so a conflict is decided atomically on both
 * stores, however many agents race.
 *
 * A reservation holds while its holder lives (presence, judged by the store's
 * clock like task claims) and, when it has one, until its TTL. A dead
 * holder's reservations (or those of a member who left the team) are
 * released by the sweep or by anyone who runs into them, and the lead is
 * told. A live holder is never evicted. A holder with no presence at all (a
 * human at the CLI) keeps its reservations until it releases them or they
 * expire.
 */
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { LEAD_NAME } from "../names.js";
import type { TeamConfig } from "../schemas.js";
import type { EventInput } from "../store/types.js";
import { ev } from "./events.js";
import { matches, normalizePattern, patternsOverlap } from "./globs.js";
import { systemMessage } from "./messages.js";
import { afterWorkChanged } from "./milestones.js";
import { hostName, leaseMs, liveness } from "./presence.js";
import { findMember, isLead, readTeam, requireMember, updateTeam } from "./teams.js";

export interface Reservation {
  /** Repo-relative path or glob (normalised, see globs.ts). */
  path: string;
  holder: string;
  exclusive: boolean;
  reason?: string;
  /** When it was first taken (store clock). */
  since: string;
  /** When it lapses (store clock), if it has a TTL. */
  expiresAt?: string;
  /** The holder's process (informative). */
  session?: string;
  /** Taken by the pi extension on a first edit (team option autoReserve). */
  auto?: boolean;
}

interface ReservationsDoc { items: Reservation[] }

const COLL = "reservations";
const KEY = "all";
export const MAX_PATHS = 100;
export const MAX_TTL_S = 7 * 24 * 3600;
const MAX_REASON = 200;

/** Where relative paths start (the caller's directory) and the repository root they are made relative to. */
export interface Where { cwd: string; root: string }

export interface ReserveInput { paths: unknown; exclusive?: boolean; reason?: string; ttl_s?: number }

/** One reservation that stands in the way of another. */
export interface Conflict extends Reservation { wanted: string }

const iso = (ms: number) => new Date(ms).toISOString();
const expired = (r: Reservation, now: number) => r.expiresAt !== undefined && Date.parse(r.expiresAt) <= now;

function patternsOf(field: string, raw: unknown, where: Where, required: boolean): string[] | undefined {
  if (raw === undefined || raw === null) {
    if (required) throw invalid(field, `is required: a list of repository paths or globs, e.g. ["src/api/**"]`);
    return undefined;
  }
  if (!Array.isArray(raw)) throw invalid(field, `must be a list of paths or globs, e.g. ["src/api/**", "README.md"]`);
  if (required && !raw.length) throw invalid(field, `is empty; give at least one path or glob`);
  if (raw.length > MAX_PATHS) throw invalid(field, `has ${raw.length} entries; the limit is ${MAX_PATHS}: reserve a directory glob instead`);
  return [...new Set(raw.map((p, i) => normalizePattern(`${field}[${i}]`, p, where)))];
}

/** Who of `holders` may lose their reservations: dead (presence), stopped, or no longer a member. Holders without presence are left alone. */
async function judge(ctx: Ctx, team: string, cfg: TeamConfig, holders: Iterable<string>): Promise<Map<string, string>> {
  const dead = new Map<string, string>();
  const now = await ctx.store.now();
  for (const h of new Set(holders)) {
    if (h !== LEAD_NAME && !findMember(cfg, h)) { dead.set(h, `${h} is no longer a member of the team`); continue; }
    const rt = await ctx.store.getPresence(team, h);
    if (!rt) continue;
    const l = liveness(rt, now, { host: hostName(ctx.env), leaseMs: leaseMs(ctx.env) });
    if (!l.alive) dead.set(h, `${h} is ${l.state === "stopped" ? "stopped" : "dead"} (${l.reason})`);
  }
  return dead;
}

interface Pruned { dead: Array<{ holder: string; reason: string; paths: string[] }>; expired: Reservation[] }

/** Drops lapsed reservations and those of holders judged dead (rule helper: pure). */
function prune(ctx: Ctx, items: Reservation[], now: number, dead: Map<string, string>): { keep: Reservation[]; pruned: Pruned; events: EventInput[] } {
  const keep: Reservation[] = [];
  const pruned: Pruned = { dead: [], expired: [] };
  const byDead = new Map<string, string[]>();
  for (const r of items) {
    if (dead.has(r.holder)) byDead.set(r.holder, [...(byDead.get(r.holder) ?? []), r.path]);
    else if (expired(r, now)) pruned.expired.push(r);
    else keep.push(r);
  }
  const events: EventInput[] = [];
  for (const [holder, paths] of byDead) {
    pruned.dead.push({ holder, reason: dead.get(holder)!, paths });
    events.push(ev(ctx, "reservation.recovered", { holder, paths, reason: dead.get(holder) }));
  }
  for (const r of pruned.expired) events.push(ev(ctx, "reservation.expired", { holder: r.holder, path: r.path, expiresAt: r.expiresAt }));
  return { keep, pruned, events };
}

const changed = (p: Pruned) => p.dead.length + p.expired.length > 0;

/** Tells the lead whose reservations were released and why, expired holders that theirs lapsed; re-checks milestones. */
async function afterPrune(ctx: Ctx, team: string, p: Pruned): Promise<void> {
  if (!changed(p)) return;
  for (const d of p.dead) {
    await systemMessage(ctx, team, LEAD_NAME, `Reservations of ${d.holder} released`, `The file reservations of ${d.holder} were released: ${d.paths.join(", ")}. ${d.reason}.`, "reservations_released").catch(() => undefined);
  }
  const lapsed = new Map<string, string[]>();
  for (const r of p.expired) lapsed.set(r.holder, [...(lapsed.get(r.holder) ?? []), r.path]);
  for (const [holder, paths] of lapsed) {
    if (holder === ctx.actor) continue;
    await systemMessage(ctx, team, holder, `Your reservation expired`, `Your file reservation of ${paths.join(", ")} reached its TTL and was released; file_reserve again if you still need it.`, "reservation_expired").catch(() => undefined);
  }
  await afterWorkChanged(ctx, team);
}

/** Describes conflicts for an error message: who holds what, why, since when. */
export function describeConflicts(conflicts: Conflict[]): string {
  const parts = conflicts.map((c) => `${c.wanted === c.path ? c.path : `${c.wanted} (overlaps ${c.path})`} is reserved ${c.exclusive ? "exclusively" : "shared"} by ${c.holder}${c.reason ? ` ("${c.reason}")` : ""} since ${c.since}${c.expiresAt ? `, until ${c.expiresAt}` : ""}`);
  const holders = [...new Set(conflicts.map((c) => c.holder))];
  return `${parts.join("; ")}. Ask ${holders.join(" or ")} with send_message to release it (file_release), or reserve other paths.`;
}

/**
 * Reserves paths for the caller, all or nothing. A path the caller already
 * holds is updated (mode, reason, TTL renewed). CONFLICT names the holders.
 */
export async function reserveFiles(ctx: Ctx, team: string, input: ReserveInput, where: Where, opts: { auto?: boolean } = {}): Promise<{ reserved: Reservation[] }> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const pats = patternsOf("paths", input.paths, where, true)!;
  const exclusive = input.exclusive !== false;
  if (input.reason !== undefined && typeof input.reason !== "string") throw invalid("reason", "must be a string");
  const reason = input.reason?.trim() ? input.reason.trim() : undefined;
  if (reason && reason.length > MAX_REASON) throw invalid("reason", `is ${reason.length} characters; keep it under ${MAX_REASON}`);
  const ttl = input.ttl_s;
  if (ttl !== undefined && (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL_S)) throw invalid("ttl_s", `must be a number of seconds between 1 and ${MAX_TTL_S} (got ${JSON.stringify(ttl)}); leave it out to hold until you release`);
  const before = (await ctx.store.getDoc<ReservationsDoc>(team, COLL, KEY))?.items ?? [];
  const dead = await judge(ctx, team, cfg, before.map((r) => r.holder).filter((h) => h !== me));
  const now = await ctx.store.now();
  const out = await ctx.store.editDoc<ReservationsDoc, { reserved: Reservation[]; conflicts: Conflict[]; pruned: Pruned }>(team, COLL, KEY, (cur) => {
    const { keep, pruned, events } = prune(ctx, cur?.items ?? [], now, dead);
    const conflicts: Conflict[] = [];
    for (const r of keep) {
      if (r.holder === me || (!exclusive && !r.exclusive)) continue;
      const wanted = pats.find((p) => patternsOverlap(p, r.path));
      if (wanted !== undefined) conflicts.push({ ...r, wanted });
    }
    if (conflicts.length) return { value: { reserved: [], conflicts, pruned }, write: changed(pruned) ? { items: keep } : undefined, events };
    const reserved: Reservation[] = [];
    for (const p of pats) {
      const old = keep.find((r) => r.holder === me && r.path === p);
      const r: Reservation = { path: p, holder: me, exclusive, since: old?.since ?? iso(now) };
      if (reason) r.reason = reason;
      if (ttl !== undefined) r.expiresAt = iso(now + ttl * 1000);
      if (ctx.session) r.session = ctx.session;
      if (opts.auto) r.auto = true;
      if (old) keep.splice(keep.indexOf(old), 1, r);
      else keep.push(r);
      reserved.push(r);
    }
    events.push(ev(ctx, "reservation.added", { holder: me, paths: pats, exclusive, reason, expiresAt: reserved[0]?.expiresAt, auto: opts.auto || undefined }));
    return { value: { reserved, conflicts, pruned }, write: { items: keep }, events };
  });
  await afterPrune(ctx, team, out.pruned);
  if (out.conflicts.length) {
    throw new TeamsError("CONFLICT", `paths: ${describeConflicts(out.conflicts)}`, { field: "paths", conflicts: out.conflicts });
  }
  return { reserved: out.reserved };
}

/** Releases the caller's reservations of exactly these patterns (all of the caller's when absent). */
export async function releaseFiles(ctx: Ctx, team: string, input: { paths?: unknown }, where: Where): Promise<{ released: Reservation[]; notHeld: string[] }> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const pats = patternsOf("paths", input.paths, where, false);
  const out = await ctx.store.editDoc<ReservationsDoc, { released: Reservation[]; notHeld: string[] }>(team, COLL, KEY, (cur) => {
    const items = cur?.items ?? [];
    const mine = (r: Reservation) => r.holder === me && (!pats || pats.includes(r.path));
    const released = items.filter(mine);
    const notHeld = (pats ?? []).filter((p) => !released.some((r) => r.path === p));
    if (!released.length) return { value: { released, notHeld } };
    return { value: { released, notHeld }, write: { items: items.filter((r) => !mine(r)) }, events: [ev(ctx, "reservation.released", { holder: me, paths: released.map((r) => r.path) })] };
  });
  if (out.released.length) await afterWorkChanged(ctx, team);
  return out;
}

/** Reservations in force (lapsed ones left out), by holder then path. */
export async function listReservations(ctx: Ctx, team: string): Promise<Reservation[]> {
  const items = (await ctx.store.getDoc<ReservationsDoc>(team, COLL, KEY))?.items ?? [];
  const now = await ctx.store.now();
  return items.filter((r) => !expired(r, now)).sort((a, b) => a.holder.localeCompare(b.holder) || a.path.localeCompare(b.path));
}

/** The sweep: releases lapsed reservations and those of dead holders (the lead is told). Returns what it released. */
export async function recoverReservations(ctx: Ctx, team: string): Promise<Pruned> {
  const items = (await ctx.store.getDoc<ReservationsDoc>(team, COLL, KEY))?.items ?? [];
  const none: Pruned = { dead: [], expired: [] };
  if (!items.length) return none;
  const cfg = await readTeam(ctx, team);
  const dead = await judge(ctx, team, cfg, items.map((r) => r.holder));
  const now = await ctx.store.now();
  if (!dead.size && !items.some((r) => expired(r, now))) return none;
  const pruned = await ctx.store.editDoc<ReservationsDoc, Pruned>(team, COLL, KEY, (cur) => {
    const { keep, pruned, events } = prune(ctx, cur?.items ?? [], now, dead);
    return changed(pruned) ? { value: pruned, write: { items: keep }, events } : { value: pruned };
  });
  await afterPrune(ctx, team, pruned);
  return pruned;
}

/**
 * Who stops `agent` from writing `path` (repo-relative): another live
 * member's exclusive reservation covering it, or undefined. A dead holder in
 * the way is swept first (its reservations released, the lead told).
 */
export async function blockingReservation(ctx: Ctx, team: string, agent: string, path: string): Promise<Reservation | undefined> {
  for (let pass = 0; pass < 2; pass++) {
    const hits = (await listReservations(ctx, team)).filter((r) => r.holder !== agent && r.exclusive && matches(r.path, path));
    if (!hits.length) return undefined;
    if (pass === 1) return hits[0];
    const cfg = await readTeam(ctx, team);
    const dead = await judge(ctx, team, cfg, hits.map((r) => r.holder));
    if (!dead.size) return hits[0];
    await recoverReservations(ctx, team);
  }
  return undefined;
}

/** True when one of `agent`'s reservations covers `path`. */
export async function holdsPath(ctx: Ctx, team: string, agent: string, path: string): Promise<boolean> {
  return (await listReservations(ctx, team)).some((r) => r.holder === agent && matches(r.path, path));
}

/** True when the team reserves a file for whoever edits it first (config `autoReserve`). */
export function autoReserveOn(cfg: TeamConfig): boolean {
  return cfg.autoReserve === true;
}

/** Turns the team's auto-reserve on or off (the lead only). */
export async function setAutoReserve(ctx: Ctx, team: string, on: boolean): Promise<void> {
  const cfg = await readTeam(ctx, team);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} turns auto-reserve on or off; you are ${ctx.actor}.`);
  await updateTeam(ctx, team, (c) => {
    if ((c.autoReserve === true) === on) return { value: undefined, write: false };
    c.autoReserve = on;
    return { value: undefined, write: true, events: [ev(ctx, "team.auto_reserve", { on })] };
  });
}
