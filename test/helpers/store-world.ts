/**
 * The real-process domain tests on both stores: a world() whose store is the
 * JSON files of a temp data dir or a PostgreSQL database of the test cluster
 * (one database per test file, emptied between tests: test/contract/stores.ts).
 * Workers (test/helpers/procs.ts) get `workerEnv`, so they open the same store
 * from their environment, as a teammate on another host would.
 */
import { makeCtx, type Ctx, type CtxOptions } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import type { Layout } from "../../src/store/json/layout.js";
import { KINDS, settle, subject, type Kind } from "../contract/stores.js";
import { tempDir, world } from "./fixtures.js";

export { KINDS, type Kind };

export interface StoreWorld {
  kind: Kind;
  /** The data dir workers are started with (holds the data on the JSON store; unused on PostgreSQL). */
  dir: string;
  /** What a worker process needs on top of `dir` to open this store. */
  workerEnv: NodeJS.ProcessEnv;
  /** The env a context of this world has (CLANKER_TEAMS_DIR / CLANKER_TEAMS_DB). */
  env: NodeJS.ProcessEnv;
  /** A context acting as `actor` (default team-lead) on this store, with a fixed clock unless `extra.now`. */
  as(actor?: string, extra?: Partial<CtxOptions>): Ctx;
  /** Brings derived files up to date (JSON); nothing to do on PostgreSQL. */
  flush(): Promise<void>;
  /** The documented files (JSON store only). */
  layout?: Layout;
  close(): Promise<void>;
}

/** A fresh, empty store of `kind` with an injectable clock for the domain's own stamps. */
export async function storeWorld(kind: Kind): Promise<StoreWorld> {
  if (kind === "json") {
    const w = world();
    return { kind, dir: w.dir, workerEnv: { CLANKER_TEAMS_DB: "" }, env: w.env, as: w.as, flush: w.flush, layout: w.layout, close: async () => {} };
  }
  const s = await subject("postgres");
  const dir = tempDir("clanker-pg-world-");
  const url = String(s.env.CLANKER_TEAMS_DB);
  const env = { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_TEAMS_DB: url, CLANKER_AGENT_NAME: "" };
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  return {
    kind, dir, env,
    workerEnv: { CLANKER_TEAMS_DB: url },
    as: (actor = "team-lead", extra = {}) => makeCtx({ store: s.store, actor, env, cwd: dir, now: () => now, runHook: async () => ({ ran: false, outcome: "missing" }), ...extra }),
    flush: () => s.store.flush(),
    close: () => s.close(),
  };
}

/** Creates `team` (lead: team-lead) with the given teammates. */
export async function teamOn(w: StoreWorld, team: string, members: string[] = []): Promise<void> {
  const lead = w.as();
  await createTeam(lead, { team_name: team, description: "test team" });
  for (const m of members) await addMember(lead, team, { name: m, role: "teammate" });
}

/** Drops the test file's database (call in afterAll). */
export const settleStores = settle;
