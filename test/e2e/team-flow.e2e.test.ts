/**
 * The whole team flow in real tmux with real pi processes (scripted model, no
 * network): a lead pi, running in a pane of a private tmux server (so TMUX and
 * TMUX_PANE are set), creates a team and a task and spawns a teammate pi with
 * spawn_teammate (a split of its window; the teammate loads the scripted
 * provider from settings.json, our extension from both settings and spawn's -e,
 * registering once). The teammate
 * greets the lead, claims the task, completes it (the repo's completion hook
 * runs and leaves a marker), reports with send_message, and the report wakes
 * the lead (a new lead run). /reload typed into the teammate's pane keeps delivery
 * going (exactly once). Finally a shutdown_request, sent while the teammate is
 * busy, lets it finish the turn and then makes the interactive
 * teammate exit cleanly, its presence saying "stopped".
 * Every step is checked in the files and the event log.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sendMessage } from "../../dist/src/index.js";
import { PI_VERSIONS, agentCmdEnv, killTmuxServer, uniqueSocket, writeAgentSettings, writeScript } from "../support/pi-harness.js";
import { EXT, makeRepoWithHook, makeWorld, paneHandle, sleep, startPiInOwnTmux, tmuxRun, until, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

for (const version of PI_VERSIONS) {
  describe(`team flow in tmux, pi ${version}`, { timeout: 170_000 }, () => {
    it("lead creates team+task, spawns a teammate; teammate greets, claims, completes (hook), reports; the report wakes the lead; typed /reload keeps delivery; shutdown_request stops the teammate", async () => {
      const T = `flow${version.replace(".", "")}`;
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [
              { when: "REPORT: task #(\\d+) complete", on: "user", reply: { text: "LEAD SAW REPORT ${1}" } },
              { when: "worker started", on: "user", reply: { text: "lead noted the greeting" } },
              {
                when: "^start the team", on: "user",
                reply: [
                  { tool: "team_create", args: { team_name: T, description: "e2e flow" } },
                  { tool: "task_create", args: { team_name: T, subject: "Build the widget", description: "WIDGET-SPEC: make it blue" } },
                  { tool: "spawn_teammate", args: { team_name: T, name: "worker", prompt: "Claim the open task, complete it, report to team-lead.", cwd: "${env.E2E_REPO}" } },
                  { text: "lead spawned worker" },
                ],
              },
            ],
            default: { text: "lead idle" },
          },
          worker: {
            rules: [
              {
                afterTool: "task_claim", when: "Claimed:\\s+#(\\d+)",
                reply: [
                  { tool: "task_update", args: { team_name: T, task_id: "${1}", active_form: "building", status: "completed" } },
                  { tool: "send_message", args: { team_name: T, recipient: "team-lead", summary: "task ${1} done", content: "REPORT: task #${1} complete" } },
                  { text: "worker done" },
                ],
              },
              { when: "gives you this assignment", on: "user", times: 1, reply: { tool: "task_claim", args: { team_name: T } } },
              { when: "SLOW-JOB", on: "user", reply: { text: "slow job finished", waitForFile: "(set below: not templated)" } },
            ],
            default: { text: "worker idle" },
          },
        },
      };
      const w = makeWorld(script, { CLANKER_TEAMS_AGENT_CMD: agentCmdEnv(version), CLANKER_SHUTDOWN_GRACE_MS: "10000" });
      worlds.push(w);
      const release = join(w.tmp, "release-slow-job");
      (script.agents!.worker!.rules!.find((r) => r.when === "SLOW-JOB")!.reply as { waitForFile: string }).waitForFile = release;
      writeScript(w.scriptFile, script);
      const repo = join(w.tmp, "repo");
      const marker = join(w.tmp, "hook-marker.txt");
      makeRepoWithHook(repo, marker);
      w.env.E2E_REPO = repo;
      // Spawned teammates get the scripted provider and model from settings.json, and our extension twice:
      // from settings (as after `pi install`) and from spawn_teammate's -e. It must register once.
      writeAgentSettings(w.tmp, [EXT]);
      const socket = uniqueSocket("flow");
      try {
        const leadPane = await startPiInOwnTmux(socket, { version, cwd: w.tmp, env: w.env, extensions: [EXT], prompt: "start the team" });
        const screen = async () => (await leadPane.capture()).slice(-1500);

        // the teammate is spawned into the lead's window
        const cfg = await until(() => w.config(T)?.members?.find((m: any) => m.name === "worker" && m.pane) && w.config(T), "worker in config with a pane", 60_000, () => w.calls().map((c) => `${c.agent}: ${c.lastText.slice(0, 100)} ${c.error ?? ""}`));
        const worker = cfg.members.find((m: any) => m.name === "worker");
        expect(cfg.members.map((m: any) => [m.name, m.role])).toEqual([["team-lead", "lead"], ["worker", "teammate"]]);
        expect(worker).toMatchObject({ cwd: repo, pane: { kind: "tmux" } });
        const panes = (await tmuxRun(socket, ["list-panes", "-t", leadPane.paneId, "-F", "#{pane_id}"])).split("\n");
        expect(panes).toEqual(expect.arrayContaining([leadPane.paneId, worker.pane.paneId]));
        const workerPane = paneHandle(socket, worker.pane.paneId);

        // greeting, claim, completion with hook, report
        await until(() => w.task(T, "1")?.status === "completed", "task #1 completed", 90_000,
          async () => ({ calls: w.calls().map((c) => `${c.agent}: ${c.lastText.slice(0, 80)} ${c.error ?? ""}`), task: w.task(T, "1") }));
        expect(w.task(T, "1")).toMatchObject({ status: "completed", owner: "worker", subject: "Build the widget", activeForm: "building" });
        const workerTools = w.calls("worker")[0]!.tools;
        expect(workerTools.filter((t) => t === "task_claim")).toHaveLength(1);
        expect(new Set(workerTools).size).toBe(workerTools.length);

        // the report wakes the lead: a new lead run whose first model call sees the report's full text
        const woke = await until(() => w.calls("team-lead").find((c) => c.lastRole === "user" && c.lastText.includes("REPORT: task #1 complete")), "lead run seeing the report", 60_000, screen);
        expect(woke.lastText).toContain("From worker");
        expect(woke.systemPrompt).toMatch(/you lead team\(s\)/);
        expect(readFileSync(marker, "utf8")).toBe(`${T} agent=worker task=1\n`); // the hook ran before the report
        expect(w.calls("team-lead").some((c) => c.lastText.includes("worker is up"))).toBe(true); // greeting delivered

        // A sender logs message.sent just after the message lands, so the lead can read the report a moment before its event.
        const ev = await until(() => { const e = w.events(T); return e.some((x) => x.kind === "message.sent" && x.data.summary === "task 1 done") ? e : undefined; }, "report's message.sent event", 30_000);
        const kinds = ev.map((e) => e.kind);
        for (const k of ["team.created", "task.created", "teammate.spawned", "message.sent", "task.claimed", "task.updated", "hook.ran", "message.read"]) expect(kinds, k).toContain(k);
        expect(ev.find((e) => e.kind === "teammate.spawned")?.data).toMatchObject({ name: "worker", kind: "tmux", pane: worker.pane.paneId });
        expect(ev.find((e) => e.kind === "hook.ran")?.data).toMatchObject({ taskId: "1", outcome: "ok" });
        const sent = ev.filter((e) => e.kind === "message.sent").map((e) => e.data);
        expect(sent).toEqual(expect.arrayContaining([
          expect.objectContaining({ from: "worker", to: "team-lead", kind: "teammate_started" }),
          expect.objectContaining({ from: "worker", to: "team-lead", summary: "task 1 done" }),
        ]));
        // order: spawned → greeting → claimed → completed → hook → report
        const at = (pred: (e: any) => boolean) => ev.findIndex(pred);
        expect(at((e) => e.kind === "task.created")).toBeLessThan(at((e) => e.kind === "teammate.spawned"));
        expect(at((e) => e.kind === "task.claimed")).toBeLessThan(at((e) => e.kind === "hook.ran"));
        expect(at((e) => e.kind === "hook.ran")).toBeLessThan(at((e) => e.kind === "message.sent" && e.data.summary === "task 1 done"));

        // inbox files: the lead's mail is marked read, nothing unread
        await until(async () => (await w.spool(T, "team-lead")).length === 0, "lead's spool drained");
        // The inbox file follows the store within ~100 ms.
        const readFromWorker = (m: { from: string; read: boolean }) => m.from === "worker" && m.read;
        const leadInbox = await until(() => { const m = w.inbox(T, "team-lead")?.messages ?? []; return m.filter(readFromWorker).length >= 2 ? m : undefined; }, "the lead's inbox file shows the worker's mail read");
        expect(leadInbox.filter((m) => m.from === "worker").map((m) => [m.kind ?? "", m.read])).toEqual(expect.arrayContaining([["teammate_started", true], ["", true]]));
        // presence: both agents, fresh, on this machine
        const wp = w.presence(T, "worker");
        expect(wp).toMatchObject({ agent: "worker", pane: worker.pane.paneId });
        expect(["idle", "busy"]).toContain(wp.state);
        expect(Date.now() - Date.parse(wp.heartbeatAt)).toBeLessThan(20_000);
        expect(w.presence(T, "team-lead")).toMatchObject({ agent: "team-lead", pane: leadPane.paneId });

        // /reload typed into the teammate's pane: the extension restarts (presence startedAt moves, never "stopped")
        // and mail sent afterwards, with no prompt in between, is delivered exactly once
        await until(() => w.presence(T, "worker")?.state === "idle", "worker idle");
        const startedBefore = w.presence(T, "worker").startedAt;
        await tmuxRun(socket, ["send-keys", "-t", worker.pane.paneId, "-l", "/reload"]);
        await sleep(300);
        await tmuxRun(socket, ["send-keys", "-t", worker.pane.paneId, "Enter"]);
        await until(() => w.presence(T, "worker")?.startedAt > startedBefore, "worker extension restarted by /reload", 30_000,
          async () => (await workerPane.capture()).slice(-800));
        await sendMessage(w.ctx(), T, { recipient: "worker", summary: "after reload", content: "PING-AFTER-TYPED-RELOAD" });
        await until(() => w.calls("worker").some((c) => c.lastText.includes("PING-AFTER-TYPED-RELOAD")), "worker sees mail after /reload", 30_000);
        await until(() => w.presence(T, "worker")?.state === "idle", "worker idle again");
        await sleep(500);
        expect(w.calls("worker").filter((c) => c.lastText.includes("PING-AFTER-TYPED-RELOAD"))).toHaveLength(1);

        // shutdown_request while the teammate is busy: it finishes its turn, then exits cleanly and says so
        await sendMessage(w.ctx(), T, { recipient: "worker", summary: "slow job", content: "SLOW-JOB" });
        await until(() => w.presence(T, "worker")?.state === "busy", "worker busy with the slow job");
        await sendMessage(w.ctx(), T, { recipient: "worker", summary: "Shutdown approved", content: "finish and exit", kind: "shutdown_request" });
        await until(() => w.presence(T, "worker")?.shutdownRequested, "shutdown request seen");
        await sleep(1000);
        expect(await workerPane.isAlive()).toBe(true); // the turn is not cut short
        writeFileSync(release, "");
        await until(async () => !(await workerPane.isAlive()), "worker pane's pi to exit", 30_000, async () => ({ presence: w.presence(T, "worker"), screen: (await workerPane.capture()).slice(-1500) }));
        expect(w.calls("worker").find((c) => c.lastText.includes("SLOW-JOB"))?.reply?.text).toBe("slow job finished");
        expect(w.presence(T, "worker")).toMatchObject({ state: "stopped", shutdownRequested: true, pid: wp.pid });
        expect(await leadPane.isAlive()).toBe(true);
      } finally {
        await killTmuxServer(socket);
      }
    });
  });
}
