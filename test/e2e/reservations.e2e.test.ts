/**
 * File reservations enforced in a real pi (0.73 and 0.55, scripted model) by
 * the extension's tool_call hook: a teammate's `edit` of a file the lead
 * holds exclusively is refused (the reason names the holder and how to ask;
 * the file is unchanged), and allowed once released; with the team's
 * auto-reserve on, a first `write` reserves the file for the teammate, so the
 * lead is refused it. The teammate's system prompt lists the reservations.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addMember, createTeam, listReservations, releaseFiles, reserveFiles, setAutoReserve, whereOf } from "../../dist/src/index.js";
import { startPiRpc, PI_VERSIONS } from "../support/pi-harness.js";
import { EXT, makeWorld, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

for (const version of PI_VERSIONS) {
  describe(`reservations in pi ${version} (rpc)`, { timeout: 150_000 }, () => {
    it("edit of a file another member reserved is refused, allowed after release; auto-reserve on first write", async () => {
      const team = "res-team";
      const script: Script = {
        agents: {
          alice: {
            rules: [
              { when: "^EDIT-NOW", on: "user", reply: [{ tool: "edit", args: { path: "file.txt", oldText: "old line", newText: "new line" } }, { text: "tried" }], times: 2 },
              { when: "^WRITE-NEW", on: "user", reply: [{ tool: "write", args: { path: "src/new.ts", content: "export {};\n" } }, { text: "written" }] },
            ],
            default: { text: "ok" },
          },
        },
      };
      const w = makeWorld(script, { CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "alice", CLANKER_TEAMS_GREET_WAIT_MS: "300" });
      worlds.push(w);
      const repo = join(w.tmp, "repo");
      mkdirSync(join(repo, "src"), { recursive: true });
      execFileSync("git", ["init", "-q", repo]);
      const file = join(repo, "file.txt");
      writeFileSync(file, "old line\n");
      const lead = w.ctx("team-lead", realpathSync(repo));
      const where = whereOf(repo);
      await createTeam(lead, { team_name: team });
      await addMember(lead, team, { name: "alice", role: "teammate" });
      await reserveFiles(lead, team, { paths: ["file.txt"], reason: "lead is editing" }, where);
      const pi = await startPiRpc({ version, cwd: repo, env: w.env, extensions: [EXT] });
      const edits = () => pi.events.filter((e) => e.type === "tool_execution_end" && e.toolName === "edit");
      try {
        await pi.run("EDIT-NOW 1");
        expect(edits()).toHaveLength(1);
        expect(edits()[0]!.isError).toBe(true);
        const why = JSON.stringify(edits()[0]!.result);
        expect(why).toMatch(/File reservation: edit of file\.txt is refused: team-lead holds file\.txt exclusively \(\\"lead is editing\\"\) since .*Ask team-lead with send_message to release it/);
        expect(readFileSync(file, "utf8")).toBe("old line\n");
        const first = w.calls("alice").find((c) => c.lastText.startsWith("EDIT-NOW"))!;
        expect(first.systemPrompt).toContain("Reservations now: file.txt (team-lead, exclusive).");
        expect(first.systemPrompt).toMatch(/`bash` cannot be checked/);

        await releaseFiles(lead, team, { paths: ["file.txt"] }, where);
        await pi.run("EDIT-NOW 2");
        expect(edits()).toHaveLength(2);
        expect(edits()[1]!.isError).toBe(false);
        expect(readFileSync(file, "utf8")).toBe("new line\n");
        expect(await listReservations(lead, team)).toEqual([]); // no auto-reserve yet

        await setAutoReserve(lead, team, true);
        await pi.run("WRITE-NEW");
        const writes = pi.events.filter((e) => e.type === "tool_execution_end" && e.toolName === "write");
        expect(writes.map((e) => e.isError)).toEqual([false]);
        expect(readFileSync(join(repo, "src", "new.ts"), "utf8")).toBe("export {};\n");
        expect(await listReservations(lead, team)).toMatchObject([{ path: "src/new.ts", holder: "alice", exclusive: true, auto: true, reason: "auto-reserved on first edit" }]);
        await expect(reserveFiles(lead, team, { paths: ["src/*.ts"] }, where)).rejects.toThrow(/src\/\*\.ts \(overlaps src\/new\.ts\) is reserved exclusively by alice/);
        expect(w.calls("alice").find((c) => c.lastText.startsWith("WRITE-NEW"))!.systemPrompt).toContain("This team reserves a file for you on your first edit or write of it.");
        expect(pi.events.filter((e) => e.type === "extension_error")).toEqual([]);
      } finally {
        await pi.close();
      }
    });
  });
}
