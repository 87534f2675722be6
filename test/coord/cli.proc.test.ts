/**
 * The coordination verbs through the built CLI (each call a real process):
 * a checkpoint is not safe (exit 2, naming the member) while a member holds
 * a claim, then a reservation, on its work, and becomes safe (exit 0, the
 * lead and the member who asked told, logged once) when it is released, on
 * both stores; reserve refuses with exit 2 and --json; send, inbox, vote,
 * status --as.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { makeCtx } from "../../src/context.js";
import { createMilestone } from "../../src/domain/milestones.js";
import { addMember } from "../../src/domain/teams.js";
import { createTask } from "../../src/domain/tasks.js";
import { readEvents } from "../../src/domain/events.js";
import { readInbox } from "../../src/domain/messages.js";
import { cleanupTemp, cli, tempDir } from "../helpers/fixtures.js";
import { KINDS, settle } from "../contract/stores.js";
import { team, type Team } from "./helpers.js";

afterAll(async () => { await settle(); cleanupTemp(); });

/** A repository to run the CLI in (paths are relative to its root). */
function repo(): string {
  const d = tempDir("clanker-repo-");
  fs.mkdirSync(path.join(d, ".git"));
  fs.mkdirSync(path.join(d, "src", "api"), { recursive: true });
  return fs.realpathSync(d);
}

describe.each(KINDS)("coordination CLI, %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });

  it("frontier: not safe (exit 2) while a member holds a claim, then a reservation, in the checkpoint; safe (exit 0) once released", async () => {
    T = await team(kind, "t", ["alice", "bob"], { realClock: true });
    const dir = repo();
    const run = (args: string[]) => cli(args, { dir: String(T.s.env.CLANKER_TEAMS_DIR ?? tempDir()), cwd: dir, env: T.s.env });
    const id = (await createTask(T.as(), "t", { subject: "cart API", description: "" })).id;
    const other = (await createTask(T.as(), "t", { subject: "docs", description: "" })).id;
    await createMilestone(T.as(), "t", { name: "v1", checkpoints: [{ name: "api", tasks: [id], paths: ["src/api/**"] }, { name: "docs", tasks: [other], depends_on: [] }] }, { cwd: dir, root: dir });
    expect((await run(["call", "task_claim", JSON.stringify({ team_name: "t", task_id: id }), "--as", "alice"])).exitCode).toBe(0);
    const asked = await run(["frontier", "t", "v1", "api", "--as", "bob"]);
    expect(asked.exitCode).toBe(2);
    expect(asked.stdout).toBe(`Checkpoint 1 api of v1 is not safe:\n  task #${id} "cart API" is in_progress (alice)\nbob will get a message when it is.`);
    expect((await run(["reserve", "t", "src/api/cart.ts", "--reason", "finishing", "--as", "alice"])).exitCode).toBe(0);
    expect((await run(["call", "task_update", JSON.stringify({ team_name: "t", task_id: id, status: "completed" }), "--as", "alice"])).exitCode).toBe(0);
    const held = await run(["frontier", "t", "v1", "api", "--json"]);
    expect(held.exitCode).toBe(2);
    const j = JSON.parse(held.stdout);
    expect(j).toMatchObject({ ok: true, safe: false, checkpoint: { blockers: [{ kind: "reservation", holder: "alice", path: "src/api/cart.ts", reason: "finishing" }] } });
    // the whole milestone: not safe either (docs is not done)
    expect((await run(["frontier", "t", "v1"])).exitCode).toBe(2);
    expect((await readEvents(T.as(), "t")).filter((e) => e.kind === "milestone.safe")).toEqual([]);
    const rel = await run(["release", "t", "--as", "alice"]);
    expect(rel.stdout).toBe("Released src/api/cart.ts.");
    const now = await run(["frontier", "t", "v1", "1"]);
    expect(now.exitCode).toBe(0);
    expect(now.stdout).toBe("Checkpoint 1 api of v1 is safe to finalize.");
    const safe = (await readEvents(T.as(), "t")).filter((e) => e.kind === "milestone.safe");
    expect(safe.map((e) => e.data)).toEqual([{ milestone: "v1", checkpoint: "api", told: ["team-lead", "bob"] }]);
    for (const who of ["team-lead", "bob"]) {
      const m = (await readInbox(T.as(who), "t")).messages.filter((x) => x.kind === "checkpoint_safe");
      expect(m.map((x) => x.content), who).toEqual([`Checkpoint "api" of milestone "v1" is safe to finalize: its tasks (#${id}) and those it depends on are completed and nobody holds a reservation on its work.`]);
    }
  }, 120_000);
});

describe("coordination CLI verbs (json store)", () => {
  it("reserve refuses with exit 2 (and --json), send/inbox/vote/status --as work for scripts", async () => {
    const data = tempDir("clanker-data-");
    const dir = repo();
    const run = (args: string[], input?: string) => cli(args, { dir: data, cwd: dir, input });
    expect((await run(["call", "team_create", '{"team_name":"t"}'])).exitCode).toBe(0);
    const lead = makeCtx({ dataDir: data, cwd: dir });
    await addMember(lead, "t", { name: "alice", role: "teammate" });
    await addMember(lead, "t", { name: "bob", role: "teammate" });
    await lead.store.close();

    expect((await run(["reserve", "t", "src/api/", "--as", "alice", "--reason", "api"])).exitCode).toBe(0);
    const refused = await run(["reserve", "t", "src/api/x.ts", "--as", "bob", "--json"]);
    expect(refused.exitCode).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, refused: true, error: { code: "CONFLICT", details: { conflicts: [{ holder: "alice", path: "src/api/**" }] } } });
    expect(refused.stderr).toMatch(/^clanker-teams: refused: paths: src\/api\/x\.ts \(overlaps src\/api\/\*\*\) is reserved exclusively by alice \("api"\)/);
    const bad = await run(["reserve", "t", "../outside", "--as", "bob"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/paths\[0\]: "\.\.\/outside" is outside the repository/);
    const listed = await run(["reserve", "t", "--json"]);
    expect(JSON.parse(listed.stdout).reservations).toMatchObject([{ path: "src/api/**", holder: "alice", exclusive: true }]);
    expect((await run(["status", "t"])).stdout).toMatch(/Reservations \(1\)\nPATH\s+HOLDER\s+MODE\s+SINCE\s+REASON\nsrc\/api\/\*\*\s+alice\s+exclusive\s+\d\d:\d\d:\d\d\s+api/);

    expect((await run(["send", "t", "bob", "please", "look", "--as", "alice"])).stdout).toBe("Sent to bob.");
    expect((await run(["send", "t", "bob", "-", "--summary", "from stdin", "--as", "alice"], "line 1\nline 2")).exitCode).toBe(0);
    const peek = await run(["inbox", "t", "--peek", "--json", "--as", "bob"]);
    expect(JSON.parse(peek.stdout).messages.map((m: { content: string }) => m.content)).toEqual(["please look", "line 1\nline 2"]);
    const read = await run(["inbox", "t", "--as", "bob"]);
    expect(read.stdout).toMatch(/^From alice at .* — please look\nplease look\n\nFrom alice at .* — from stdin\nline 1\nline 2$/);
    expect((await run(["inbox", "t", "--as", "bob"])).stdout).toBe("No unread messages for bob.");

    const prop = await run(["vote", "t", "--propose", "Use zod?", "--voters", "alice,bob", "--json", "--as", "alice"]);
    expect(JSON.parse(prop.stdout).vote).toMatchObject({ id: "1", kind: "yes_no", voters: ["alice", "bob"] });
    expect((await run(["vote", "t", "1", "yes", "--as", "alice"])).exitCode).toBe(0);
    const me = await run(["status", "--as", "bob"]);
    expect(me.stdout).toMatch(/^You are bob \(teammate\) in team t\. Unread messages: 1\./);
    expect(me.stdout).toMatch(/Open votes:\n {2}1: Use zod\? \(yes_no; 1\/2 voted; YOUR VOTE IS MISSING\)/);
    expect(me.stdout).toMatch(/Reservations:\n {2}src\/api\/\*\* — alice \(exclusive: api; since /);
    const last = await run(["vote", "t", "1", "no", "--comment", "prefer valibot", "--as", "bob"]);
    expect(last.stdout).toMatch(/Vote 1 \[closed\] Use zod\?.*\nResult: winner no: 1 yes, 1 no: does not pass \(more than half must be yes; a tie does not pass\) \(all voted\)$/);
    const shown = JSON.parse((await run(["vote", "t", "1", "--json"])).stdout);
    expect(shown.vote.votes.bob).toMatchObject({ choice: ["no"], comment: "prefer valibot" });
    expect((await run(["vote", "t", "1", "yes", "--as", "bob"])).exitCode).toBe(1);
    const unknownFlag = await run(["reserve", "t", "x", "--exclusiv"]);
    expect(unknownFlag.stderr).toMatch(/unknown option --exclusiv for reserve/);
    expect((await run(["release", "t", "--as", "alice", "--json"])).stdout).toMatch(/"released": \[/);
  }, 120_000);
});
