/**
 * Chooses the store: CLANKER_TEAMS_DB (or `db` in $CLANKER_TEAMS_DIR/settings.json,
 * or the `db` option, e.g. the CLI's --db) names a PostgreSQL database
 * (postgres://…); otherwise the JSON files in the data directory. One store
 * per location per process (they hold connections and cached state).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { invalid } from "../errors.js";
import { JsonStore } from "./json/index.js";
import { PgStore } from "./pg/index.js";
import type { StoreOptions, TeamStore } from "./types.js";

/** The data directory: $CLANKER_TEAMS_DIR, else ~/.clanker. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.CLANKER_TEAMS_DIR;
  return d && d.trim() ? path.resolve(d) : path.join(os.homedir(), ".clanker");
}

/** The database URL this environment selects, if any (see the file comment). */
export function dbUrl(env: NodeJS.ProcessEnv = process.env, explicit?: string): string | undefined {
  const fromEnv = explicit?.trim() || env.CLANKER_TEAMS_DB?.trim();
  if (fromEnv) return checkUrl(explicit?.trim() ? "--db" : "CLANKER_TEAMS_DB", fromEnv);
  const settings = path.join(dataDir(env), "settings.json");
  let text: string | undefined;
  try { text = fs.readFileSync(settings, "utf8"); } catch { return undefined; }
  let db: unknown;
  try { db = (JSON.parse(text) as { db?: unknown }).db; } catch { throw invalid(settings, "is not valid JSON; it may hold {\"db\": \"postgres://…\"}"); }
  if (db === undefined || db === null || db === "") return undefined;
  if (typeof db !== "string") throw invalid(`${settings}: db`, "must be a postgres:// URL string");
  return checkUrl(`${settings}: db`, db);
}

function checkUrl(field: string, url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) throw invalid(field, `must be a PostgreSQL URL such as postgres://user@host:5432/db (got ${JSON.stringify(url.replace(/:[^:@/]*@/, ":***@"))})`);
  return url;
}

const pgStores = new Map<string, PgStore>();

/** The store for these options (env: CLANKER_TEAMS_DB, CLANKER_TEAMS_DIR). */
export function openStore(opts: StoreOptions & { env?: NodeJS.ProcessEnv } = {}): TeamStore {
  const env = opts.env ?? process.env;
  const url = dbUrl(env, opts.db);
  if (url) {
    let s = pgStores.get(url);
    if (!s || s.closed) { s = new PgStore({ url }); pgStores.set(url, s); }
    return s;
  }
  return new JsonStore({ dataDir: opts.dataDir ?? dataDir(env), now: opts.now });
}
