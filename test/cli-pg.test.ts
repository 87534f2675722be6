/**
 * The CLI on PostgreSQL: `db doctor` / `db migrate` on a fresh database, the
 * same tools through --db and CLANKER_TEAMS_DB, `join` adding a member and
 * printing the exact command for another host, and a teammate env that
 * carries the database (not a data dir).
 */
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTemp, cli, tempDir } from "./helpers/fixtures.js";
import { freshDb } from "./helpers/pg.js";

afterAll(cleanupTemp);

describe("the CLI on PostgreSQL", () => {
  it("db doctor finds no schema on a new database, db migrate creates it, doctor then passes; tools work through --db", async () => {
    const db = await freshDb("cli");
    const dir = tempDir();
    try {
      const before = await cli(["db", "doctor", "--db", db.url], { dir });
      expect(before.exitCode).toBe(1);
      expect(before.stdout).toMatch(/reachable: connected/);
      expect(before.stdout).toMatch(/FAIL schema: no clanker-teams schema yet: run `clanker-teams db migrate`/);
      const m = await cli(["db", "migrate", "--db", db.url], { dir });
      expect(m.stderr).toBe("");
      expect(m.stdout).toMatch(/Schema migrated from version 0 to \d+/);
      expect((await cli(["db", "migrate", "--db", db.url], { dir })).stdout).toMatch(/already at version/);
      const after = await cli(["db", "doctor", "--db", db.url, "--json"], { dir });
      expect(after.exitCode).toBe(0);
      expect(JSON.parse(after.stdout).findings.every((f: { ok: boolean }) => f.ok)).toBe(true);
      expect(JSON.parse(after.stdout).location).not.toMatch(/:[^:@/]+@/); // no password shown
      // The same tool calls on the database, never touching the data dir.
      expect((await cli(["call", "team_create", '{"team_name":"far"}', "--db", db.url], { dir })).exitCode).toBe(0);
      const t = await cli(["call", "task_create", '{"team_name":"far","subject":"s","description":"d"}'], { dir, env: { CLANKER_TEAMS_DB: db.url } });
      expect(JSON.parse(t.stdout).details.task.id).toBe("1");
      const st = await cli(["status", "far", "--json", "--db", db.url], { dir });
      expect(JSON.parse(st.stdout).tasks.pending.map((x: { id: string }) => x.id)).toEqual(["1"]);
      expect((await cli(["status"], { dir })).stdout).toMatch(/No teams in/);
    } finally {
      await db.drop();
    }
  });

  it("join adds the member and prints the command a teammate on another host runs: its agent, the extension, the same database, its identity", async () => {
    const db = await freshDb("join");
    const dir = tempDir();
    try {
      await cli(["call", "team_create", '{"team_name":"far"}', "--db", db.url], { dir });
      const r = await cli(["join", "far", "--as", "laptop-dev", "--db", db.url], { dir, env: { CLANKER_TEAMS_AGENT_CMD: "pi" } });
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^CLANKER_TEAMS_DB='postgres:\/\/[^']+' CLANKER_TEAM_NAME=far CLANKER_AGENT_NAME=laptop-dev pi -e '?\/\S+\/dist\/src\/hosts\/pi-extension\.js'? 'You are laptop-dev, a teammate in team "far"/);
      const cfg = JSON.parse((await cli(["call", "read_config", '{"team_name":"far"}', "--db", db.url], { dir })).stdout).details.config;
      expect(cfg.members.map((m: { name: string }) => m.name)).toEqual(["team-lead", "laptop-dev"]);
      // Joining again does not add it twice; a look-alike of the lead is refused.
      await cli(["join", "far", "--as", "laptop-dev", "--db", db.url], { dir });
      expect(JSON.parse((await cli(["call", "read_config", '{"team_name":"far"}', "--db", db.url], { dir })).stdout).details.config.members).toHaveLength(2);
      const bad = await cli(["join", "far", "--as", "team-lеad", "--db", db.url], { dir });
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toMatch(/looks like the lead/);
    } finally {
      await db.drop();
    }
  });
});
