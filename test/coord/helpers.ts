/** A team on either store (test/contract/stores.ts), with an injectable clock and contexts acting as its members. */
import { makeCtx, type Ctx } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import { subject, type Kind, type Subject } from "../contract/stores.js";

export interface Team {
  s: Subject;
  /** The store's clock (both stores honour an injected one). */
  clock: { now: number; advance(ms: number): void };
  /** A context acting as `actor`, in repository `/repo` (cwd `/repo` unless given). */
  as(actor?: string, extra?: { cwd?: string; session?: string; env?: NodeJS.ProcessEnv }): Ctx;
  /** Where paths are relative to: the repository root /repo. */
  where: { cwd: string; root: string };
  close(): Promise<void>;
}

export const LEASE_MS = 30_000;

/**
 * A fresh store of `kind` with team `name` (lead: team-lead) and these
 * teammates. realClock: the stores' own clocks (tests with other processes),
 * with `leaseMs` as the lease.
 */
export async function team(kind: Kind, name: string, members: string[], opts: { realClock?: boolean; leaseMs?: number } = {}): Promise<Team> {
  const clock = { now: Date.UTC(2026, 0, 1, 12), advance(ms: number) { this.now += ms; } };
  const now = opts.realClock ? Date.now : () => clock.now;
  const s = await subject(kind, opts.realClock ? {} : { now });
  const env = { ...process.env, CLANKER_TEAMS_LEASE_MS: String(opts.leaseMs ?? LEASE_MS), CLANKER_AGENT_NAME: "" };
  const as = (actor = "team-lead", extra: { cwd?: string; session?: string; env?: NodeJS.ProcessEnv } = {}) =>
    makeCtx({ store: s.store, actor, cwd: extra.cwd ?? "/repo", env: extra.env ?? env, now, session: extra.session, runHook: async () => ({ ran: false, outcome: "missing" }) });
  await createTeam(as(), { team_name: name });
  for (const m of members) await addMember(as(), name, { name: m, role: "teammate" });
  return { s, clock, as, where: { cwd: "/repo", root: "/repo" }, close: () => s.close() };
}
