/**
 * A real pi (0.73 and 0.55) in RPC mode running the extension as a teammate,
 * with the scripted model: it is loaded twice but registers once, greets the
 * lead once its model answers, gets a task by message, claims and completes it (the completion hook
 * runs), reports; it knows who it is on every run; after a reload one watcher
 * and one heartbeat timer remain and mail is delivered once; plan mode blocks
 * `edit` until the lead approves the plan. Every step is checked in the files,
 * the event log and the script log (what the model saw), not in model text.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addMember, createTask, createTeam, evaluatePlan, readEvents, readHistory, sendMessage } from "../../dist/src/index.js";
import { startPiRpc, PI_VERSIONS, type RpcHandle } from "../support/pi-harness.js";
import { DEBUG_PROBE, EXT, callsSeeing, makeRepoWithHook, makeWorld, sleep, until, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

const IDENTITY = (name: string, team: string) => `You are ${name}, a teammate in team "${team}"`;

/** The COUNTERS snapshot the debug_counters tool returned most recently (from the script log). */
function lastCounters(w: World): Record<string, number> {
  const c = w.calls().filter((x) => x.lastToolName === "debug_counters").at(-1);
  if (!c) throw new Error("debug_counters never ran");
  return JSON.parse(c.lastText.replace(/^COUNTERS /, ""));
}

/** Distinct heartbeatAt values of a presence file seen while polling for `ms`. */
async function heartbeatsDuring(w: World, team: string, agent: string, ms: number): Promise<number> {
  const seen = new Set<number>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const p = w.presence(team, agent);
    if (p?.heartbeatAt) seen.add(p.heartbeatAt);
    await sleep(20);
  }
  return seen.size;
}

for (const version of PI_VERSIONS) {
  describe(`teammate in pi ${version} (rpc)`, { timeout: 150_000 }, () => {
    it("registers once when loaded twice, greets, gets a task, completes it with the hook, reports; identity every run; one watcher/timer after reload", async () => {
      const team = "rpc-team";
      const script: Script = {
        agents: {
          alice: {
            rules: [
              { afterTool: "debug_counters", reply: { text: "counted" } },
              { when: "^counters", reply: { tool: "debug_counters", args: {} } },
              {
                when: "Task #(\\d+) assigned to you", on: "user",
                reply: [
                  { tool: "task_claim", args: { team_name: team, task_id: "${1}" } },
                  { tool: "task_update", args: { team_name: team, task_id: "${1}", status: "completed" } },
                  { tool: "send_message", args: { team_name: team, recipient: "team-lead", summary: "task ${1} done", content: "REPORT: task #${1} is complete" } },
                  { text: "reported" },
                ],
              },
            ],
            default: { text: "ok" },
          },
        },
      };
      const w = makeWorld(script, { CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "alice", CLANKER_TEAMS_HEARTBEAT_MS: "300" });
      worlds.push(w);
      const repo = join(w.tmp, "repo");
      const marker = join(w.tmp, "hook-marker.txt");
      makeRepoWithHook(repo, marker);
      const lead = w.ctx();
      await createTeam(lead, { team_name: team });
      await addMember(lead, team, { name: "alice", role: "teammate" });
      // Loaded twice: by path and through a copy of the file (a package install plus -e).
      const copy = join(w.tmp, "pi-extension-copy.js");
      writeFileSync(copy, `export { default } from ${JSON.stringify(EXT)};\n`);
      const pi: RpcHandle = await startPiRpc({ version, cwd: repo, env: w.env, extensions: [EXT, copy, DEBUG_PROBE] });
      try {
        expect(pi.events.some((e) => e.type === "extension_error")).toBe(false);
        // no greeting before the model has answered (it would claim a teammate works whose model may fail)
        await sleep(500);
        expect((await w.spool(team, "team-lead")).filter((m) => m.from === "alice")).toEqual([]);

        // run 1: a prompt; every tool exists once; the model answers, so the greeting says alice works
        await pi.run("hello");
        const greet = await until(async () => (await w.spool(team, "team-lead")).find((m) => m.kind === "teammate_started" && m.from === "alice"), "teammate_started in the lead's inbox");
        expect(greet.content).toMatch(/^alice is up \(pid \d+, model scripted\/scripted-1\) and is working on its initial prompt\.$/);
        const first = w.calls("alice")[0]!;
        for (const name of ["task_claim", "task_update", "send_message", "read_inbox", "debug_counters"]) {
          expect(first.tools.filter((t) => t === name), name).toHaveLength(1);
        }
        expect(first.tools).not.toContain("spawn_teammate"); // teammates do not spawn
        expect(new Set(first.tools).size).toBe(first.tools.length);
        expect(first.systemPrompt).toContain(IDENTITY("alice", team));
        expect(["busy", "idle"]).toContain(w.presence(team, "alice")?.state);

        // run 2: the lead assigns a task (library) → delivered with full text → claim, complete (hook), report
        const task = await createTask(lead, team, { subject: "Write the thing", description: "DESC-LINE-1\nDESC-LINE-2", owner: "alice" });
        await until(() => w.task(team, task.id)?.status === "completed", "task completed", 60_000, () => w.calls("alice").map((c) => c.lastText.slice(0, 80)));
        await until(async () => (await w.spool(team, "team-lead")).some((m) => m.content === `REPORT: task #${task.id} is complete`), "report in the lead's inbox");
        await pi.waitIdle({ timeoutMs: 30_000 });
        const seen = callsSeeing(w.calls("alice"), `Task #${task.id} assigned to you`);
        expect(seen).toHaveLength(1);
        expect(seen[0]!.lastText).toContain("DESC-LINE-1\nDESC-LINE-2");
        expect(seen[0]!.systemPrompt).toContain(IDENTITY("alice", team));
        const t = w.task(team, task.id);
        expect(t).toMatchObject({ status: "completed", owner: "alice" });
        expect(readFileSync(marker, "utf8")).toBe(`${team} agent=alice task=${task.id}\n`);
        // The store (events.jsonl and the inbox files follow within ~100 ms).
        const events = await readEvents(lead, team);
        const kinds = events.map((e) => e.kind);
        for (const k of ["task.created", "message.sent", "message.read", "task.claimed", "task.updated", "hook.ran"]) expect(kinds, k).toContain(k);
        expect(events.find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: task.id, outcome: "ok" });
        const assigned = (await readHistory(lead, team, "alice")).messages.find((m) => m.kind === "task_assigned");
        expect(assigned?.read).toBe(true);
        expect(await w.spool(team, "alice")).toEqual([]);

        // run 3: another message; identity still in the system prompt
        await sendMessage(lead, team, { recipient: "alice", summary: "third", content: "THIRD-RUN-PING" });
        await until(() => callsSeeing(w.calls("alice"), "THIRD-RUN-PING").length, "third message seen");
        await pi.waitIdle();
        expect(callsSeeing(w.calls("alice"), "THIRD-RUN-PING")[0]!.systemPrompt).toContain(IDENTITY("alice", team));
        const runStarts = w.calls("alice").filter((c) => c.lastRole === "user");
        expect(runStarts.length).toBeGreaterThanOrEqual(3);
        for (const c of w.calls("alice")) expect(c.systemPrompt).toContain(IDENTITY("alice", team));

        // before reload: counters and heartbeat rate
        await pi.run("counters before");
        const before = lastCounters(w);
        expect(before).toMatchObject({ loads: 2, instances: 1, watchers: 1, heartbeat: 1, poll: 1, sweep: 0 }); // loaded twice, one instance
        const beatsBefore = await heartbeatsDuring(w, team, "alice", 3000);
        expect(beatsBefore).toBeLessThanOrEqual(13);

        // reload (ctx.reload via a command): the factory runs again. The presence never says "stopped"
        // meanwhile (the lead's sweep would release our tasks).
        const states = new Set<string>();
        let watching = true;
        const watcher = (async () => { while (watching) { const s = w.presence(team, "alice")?.state; if (s) states.add(s); await sleep(15); } })();
        await pi.prompt("/e2e-reload");
        await sleep(2000);
        watching = false;
        await watcher;
        expect([...states]).not.toContain("stopped");

        // a message after reload, with no prompt in between, is delivered exactly once
        await sendMessage(lead, team, { recipient: "alice", summary: "after reload", content: "AFTER-RELOAD-PING" });
        await until(() => callsSeeing(w.calls("alice"), "AFTER-RELOAD-PING").length, "message after reload seen", 20_000);
        await pi.waitIdle();

        await pi.run("counters after");
        const after = lastCounters(w);
        expect(after).toMatchObject({ instances: 1, watchers: 1, heartbeat: 1, poll: 1, sweep: 0 });
        const beatsAfter = await heartbeatsDuring(w, team, "alice", 3000);
        // 300 ms heartbeat over 3 s: ~10 writes with one timer, ~20 with two (a loaded box only lowers it)
        expect(beatsAfter).toBeLessThanOrEqual(13);
        expect(beatsAfter).toBeGreaterThanOrEqual(3); // and it still beats
        expect(callsSeeing(w.calls("alice"), "AFTER-RELOAD-PING")).toHaveLength(1);
        expect(await w.spool(team, "alice")).toEqual([]);
        expect(pi.events.filter((e) => e.type === "extension_error")).toEqual([]);
      } finally {
        await pi.close();
      }
    });

    it("plan mode: edit is blocked (reason names task_submit_plan, file unchanged) until the lead approves the plan", async () => {
      const team = "plan-team";
      const script: Script = {
        agents: {
          bob: {
            rules: [
              {
                when: "Task #(\\d+) assigned to you", on: "user",
                reply: [
                  { tool: "edit", args: { path: "file.txt", oldText: "old line", newText: "new line" } },
                  { tool: "task_submit_plan", args: { team_name: team, task_id: "${1}", plan: "1. change file.txt" } },
                  { text: "waiting for approval" },
                ],
              },
              {
                when: "Plan for task #(\\d+) approved", on: "user",
                reply: [
                  { tool: "edit", args: { path: "file.txt", oldText: "old line", newText: "new line" } },
                  { tool: "task_update", args: { team_name: team, task_id: "${1}", status: "completed" } },
                  { text: "implemented" },
                ],
              },
            ],
            default: { text: "ok" },
          },
        },
      };
      const w = makeWorld(script, { CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "bob", CLANKER_PLAN_MODE_REQUIRED: "1", CLANKER_TEAMS_GREET_WAIT_MS: "300" });
      worlds.push(w);
      const file = join(w.tmp, "file.txt");
      writeFileSync(file, "old line\n");
      const lead = w.ctx();
      await createTeam(lead, { team_name: team });
      await addMember(lead, team, { name: "bob", role: "teammate", planModeRequired: true });
      const pi = await startPiRpc({ version, cwd: w.tmp, env: w.env, extensions: [EXT] });
      try {
        // no prompt and no model call yet: after the greeting's wait (300 ms here) bob greets without claiming to work
        const greet = await until(async () => (await w.spool(team, "team-lead")).find((m) => m.kind === "teammate_started" && m.from === "bob"), "bob's greeting");
        expect(greet.content).toMatch(/^bob is up \(pid \d+, model scripted\/scripted-1\) and is waiting for a prompt\.$/);
        await pi.run("hello");
        expect(w.calls("bob")[0]!.systemPrompt).toMatch(/PLAN MODE/);
        const task = await createTask(lead, team, { subject: "Change file", description: "old → new", owner: "bob" });
        await until(() => w.task(team, task.id)?.planStatus === "submitted", "plan submitted", 60_000);
        await pi.waitIdle();
        const blocked = pi.events.filter((e) => e.type === "tool_execution_end" && e.toolName === "edit");
        expect(blocked).toHaveLength(1);
        expect(blocked[0]!.isError).toBe(true);
        expect(JSON.stringify(blocked[0]!.result)).toMatch(/task_submit_plan/);
        expect(readFileSync(file, "utf8")).toBe("old line\n");
        expect(w.task(team, task.id)).toMatchObject({ status: "planning", owner: "bob", plan: "1. change file.txt" });
        expect((await w.spool(team, "team-lead")).some((m) => m.kind === "plan_submitted")).toBe(true);

        await evaluatePlan(lead, team, task.id, "approve");
        await until(() => w.task(team, task.id)?.status === "completed", "task completed after approval", 60_000);
        await pi.waitIdle();
        const edits = pi.events.filter((e) => e.type === "tool_execution_end" && e.toolName === "edit");
        expect(edits).toHaveLength(2);
        expect(edits[1]!.isError).toBe(false);
        expect(readFileSync(file, "utf8")).toBe("new line\n");
        const kinds = (await readEvents(lead, team)).map((e) => e.kind);
        expect(kinds).toEqual(expect.arrayContaining(["plan.submitted", "plan.approved", "task.updated"]));
      } finally {
        await pi.close();
      }
    });
  });
}
