/** `clanker-teams db migrate|doctor`: the PostgreSQL store's schema and a check of a database URL. */
import { dbUrl } from "../../../store/open.js";
import { jsonForTerminal, visible } from "../../../text/safe.js";
import type { Command } from "../command.js";
import { c } from "../render.js";

function urlOf(flags: Record<string, string | boolean>): string {
  const url = dbUrl(process.env, typeof flags.db === "string" ? flags.db : undefined);
  if (!url) throw new Error("no database: pass --db postgres://user@host:5432/db or set CLANKER_TEAMS_DB (the JSON store needs no schema)");
  return url;
}

export const db: Command = {
  name: "db",
  synopsis: "db migrate|doctor [--db URL] [--json]     create/upgrade the PostgreSQL schema; check a database",
  help: `Usage: clanker-teams db migrate [--db URL]
       clanker-teams db doctor [--db URL] [--json]

For teams kept in PostgreSQL (--db or $CLANKER_TEAMS_DB, postgres://user@host:5432/db).
migrate creates or upgrades the package's schema (versioned, idempotent; it also
runs on first use). doctor checks the URL: reachable, server version, schema
version, the rights the user needs; exit 1 when something is wrong, saying how
to fix it.`,
  bools: ["json"], maxArgs: 1, argsHint: "migrate or doctor",
  async run({ args: [sub], flags }) {
    if (sub !== "migrate" && sub !== "doctor") throw new Error(`db needs "migrate" or "doctor"${sub ? ` (got ${JSON.stringify(visible(sub))})` : ""}; clanker-teams db --help`);
    const url = urlOf(flags);
    const pg = await import("../../../store/pg/index.js");
    if (sub === "migrate") {
      const r = await pg.migrate(url);
      const what = r.applied.length ? `migrated from version ${r.from} to ${r.to}` : `already at version ${r.to}`;
      process.stdout.write(flags.json ? jsonForTerminal({ ok: true, ...r }) + "\n" : `Schema ${what} in ${visible(pg.redactUrl(url))}.\n`);
      return 0;
    }
    const r = await pg.doctor(url);
    if (flags.json) process.stdout.write(jsonForTerminal(r, 2) + "\n");
    else {
      process.stdout.write(`${visible(r.location)}\n`);
      for (const f of r.findings) process.stdout.write(`  ${f.ok ? c.green("ok  ") : c.red("FAIL")} ${f.check}: ${visible(f.detail)}\n`);
    }
    return r.ok ? 0 : 1;
  },
};
