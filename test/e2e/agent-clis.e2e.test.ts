/**
 * Real third-party agent CLIs as teammates, end to end, offline: a pi lead
 * (scripted model) in a private tmux server spawns a teammate with
 * spawn_teammate(agent: claude | codex | gemini | opencode). The CLI, installed
 * from npm into test/agents (first use), runs in the pane next to the lead
 * with HOME and every config private, talking to a scripted model server of
 * ours on 127.0.0.1 in its own API (test/agents/models), and to our MCP server
 * configured by spawn_teammate in a private temp dir. The teammate claims the
 * task through the MCP tools, completes it (the repo's completion hook runs),
 * reports, and the report wakes the lead. Then mail reaches the teammate:
 * pushed by the Stop / AfterAgent hook (Claude Code, Gemini CLI) or long-polled
 * with wait_for_mail (Codex, opencode). Last, an approved shutdown ends the
 * CLI (the MCP server stops its host) and its presence says stopped.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendMessage } from "../../dist/src/index.js";
import { isPidAlive } from "../../dist/src/agents/terminals/process.js";
import { killTmuxServer, uniqueSocket, writeScript } from "../support/pi-harness.js";
import { ensureAgentClis, setupCli, type CliKind, type CliSetup } from "../agents/clis.js";
import type { ScriptBody } from "../agents/models/engine.js";
import { EXT, makeRepoWithHook, makeWorld, paneHandle, startPiInOwnTmux, until, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
const servers: CliSetup[] = [];
let BIN = "";
beforeAll(async () => { BIN = await ensureAgentClis(); }, 20 * 60_000);
afterAll(async () => {
  for (const s of servers) await s.server.close().catch(() => undefined);
  worlds.forEach((w) => w.cleanup());
});

/** Hook hosts get mail pushed at the end of a turn; the others wait for it with wait_for_mail. */
const PUSH: Record<CliKind, boolean> = { claude: true, gemini: true, codex: false, opencode: false };

function workerScript(T: string, kind: CliKind, gate: string): ScriptBody {
  const report = { tool: "send_message", args: { team_name: T, recipient: "team-lead", summary: "task ${1} done", content: "REPORT: task #${1} complete" } };
  return {
    rules: [
      { when: "FOLLOW-UP-7", on: "any", afterTool: PUSH[kind] ? undefined : "wait_for_mail", times: 1, reply: { text: "got the follow-up" } },
      {
        afterTool: "task_claim", when: "Claimed:\\s+#(\\d+)",
        reply: [
          { tool: "task_update", args: { team_name: T, task_id: "${1}", active_form: "building", status: "completed" } },
          report,
          // Push hosts end the turn once the lead has answered (so the Stop hook finds the mail); the others long-poll.
          PUSH[kind] ? { text: "worker done", waitForFile: gate } : { tool: "wait_for_mail", args: { team_name: T, timeout_s: 120 } },
        ],
      },
      { when: "gives you this assignment", on: "any", times: 1, reply: { tool: "task_claim", args: { team_name: T } } },
    ],
    default: { text: "worker idle" },
    maxCalls: 40,
  };
}

for (const kind of ["claude", "codex", "gemini", "opencode"] as CliKind[]) {
  describe(`a ${kind} teammate`, { timeout: 300_000 }, () => {
    it("is spawned by a pi lead in tmux, claims and completes a task over MCP (hook runs), reports and wakes the lead, gets mail, and stops on an approved shutdown", async () => {
      const T = `mcp-${kind}`;
      const w = makeWorld({ default: { text: "idle" } }, { CLANKER_SHUTDOWN_GRACE_MS: "15000" });
      worlds.push(w);
      const repo = join(w.tmp, "repo");
      const marker = join(w.tmp, "hook-marker.txt");
      makeRepoWithHook(repo, marker);
      const gate = join(w.tmp, "follow-up-sent");
      const cli = await setupCli(kind, workerScript(T, kind, gate), w.env.HOME!, repo);
      servers.push(cli);
      const lead: Script = {
        agents: {
          "team-lead": {
            rules: [
              { when: "REPORT: task #(\\d+) complete", on: "user", times: 1, reply: [
                { tool: "send_message", args: { team_name: T, recipient: "worker", summary: "follow-up", content: "FOLLOW-UP-7: also add a test" } },
                { text: "LEAD SAW REPORT ${1}" },
              ] },
              { when: "^start the team", on: "user", reply: [
                { tool: "team_create", args: { team_name: T, description: `e2e ${kind}` } },
                { tool: "task_create", args: { team_name: T, subject: "Build the widget", description: "WIDGET-SPEC: make it blue" } },
                { tool: "spawn_teammate", args: { team_name: T, name: "worker", agent: kind, model: cli.modelName, prompt: "Claim the open task, complete it, report to team-lead.", cwd: repo } },
                { text: "lead spawned worker" },
              ] },
            ],
            default: { text: "lead idle" },
          },
        },
      };
      writeScript(w.scriptFile, lead);
      Object.assign(w.env, cli.env, { PATH: `${BIN}:${w.env.PATH}` });
      const socket = uniqueSocket(`mcp${kind}`);
      const calls = () => w.calls().map((c) => `${c.agent}: ${c.lastText.slice(0, 100)} ${c.error ?? ""}`);
      const seen = () => cli.model.log.map((e) => `${e.source} ${e.view.lastRole}:${e.view.lastToolName ?? ""} ${e.view.lastText.slice(0, 160)}`);
      try {
        const leadPane = await startPiInOwnTmux(socket, { version: "0.73", cwd: w.tmp, env: w.env, extensions: [EXT], prompt: "start the team" });
        const cfg = await until(() => w.config(T)?.members?.find((m: any) => m.name === "worker" && m.pane) && w.config(T), "worker in config with a pane", 60_000, calls);
        const worker = cfg.members.find((m: any) => m.name === "worker");
        const pane = paneHandle(socket, worker.pane.paneId);
        const screen = async () => ({ presence: w.presence(T, "worker"), model: seen(), aux: cli.model.aux, requests: cli.server.requests.slice(-5), screen: (await pane.capture().catch(() => "")).slice(-2500) });

        // the CLI's MCP config lives in a private temp dir named on its command line, never in HOME
        const spawned = await until(() => w.events(T).find((e) => e.kind === "teammate.spawned"), "teammate.spawned event", 10_000);
        expect(spawned.data).toMatchObject({ name: "worker", agent: kind, kind: "tmux" });

        // claim → complete (hook) → report, all through the MCP tools
        await until(() => w.task(T, "1")?.status === "completed", `task #1 completed by the ${kind} teammate`, 150_000, screen);
        expect(w.task(T, "1")).toMatchObject({ status: "completed", owner: "worker", activeForm: "building" });
        // The hook runs after the task is saved: its marker follows the completed task by a moment.
        await until(() => existsSync(marker), "the completion hook's marker", 30_000, screen);
        expect(readFileSync(marker, "utf8")).toBe(`${T} agent=worker task=1\n`);
        const first = cli.model.log.find((e) => e.source !== "default")!;
        expect(first.tools).toEqual(expect.arrayContaining(["task_claim", "task_update", "send_message", "wait_for_mail"]));
        expect(first.tools).not.toContain("spawn_teammate"); // the teammate role's tools
        expect(cli.model.log.some((e) => e.view.lastToolName === "task_claim" && /Claimed:\s+#1/.test(e.view.lastText))).toBe(true);

        // the report wakes the lead (a new lead run seeing the report's text)
        const woke = await until(() => w.calls("team-lead").find((c) => c.lastRole === "user" && c.lastText.includes("REPORT: task #1 complete")), "lead run seeing the report", 60_000, calls);
        expect(woke.lastText).toContain("From worker");
        // the MCP server greeted the lead for its host
        expect(w.calls("team-lead").some((c) => /worker is up \(.*over MCP\)/.test(c.lastText))).toBe(true);

        // mail from the lead reaches the teammate: pushed by its hook, or returned by wait_for_mail
        await until(() => w.events(T).some((e) => e.kind === "message.sent" && e.data.summary === "follow-up"), "the lead's follow-up sent", 60_000, calls);
        writeFileSync(gate, "");
        const got = await until(() => cli.model.log.find((e) => e.view.lastText.includes("FOLLOW-UP-7")), `the ${kind} teammate's model seeing the follow-up`, 90_000, screen);
        if (PUSH[kind]) expect(got.view.lastRole).toBe("user"); // the Stop / AfterAgent hook fed it back as input
        else expect(got.view.lastToolName).toBe("wait_for_mail");
        expect(got.answer.text).toBe("got the follow-up");

        // presence: the host CLI's pid, its client name; then an approved shutdown ends the CLI
        const pres = await until(() => { const p = w.presence(T, "worker"); return p?.client && p; }, "worker presence with its client", 20_000);
        expect(pres.state).not.toBe("stopped");
        const cmdline = readFileSync(`/proc/${pres.pid}/cmdline`, "utf8").split("\0");
        const cfgArg = kind === "claude" ? cmdline[cmdline.indexOf("--mcp-config") + 1] : undefined;
        if (cfgArg) { expect(cfgArg).toMatch(/\/clanker-teams-claude-[^/]+\/mcp\.json$/); expect(cfgArg.startsWith(w.env.HOME!)).toBe(false); expect(existsSync(cfgArg)).toBe(true); }
        await sendMessage(w.ctx(), T, { recipient: "worker", summary: "Shutdown approved", content: "finish and exit", kind: "shutdown_request" });
        await until(() => w.presence(T, "worker")?.state === "stopped", "worker presence stopped", 30_000, screen);
        expect(w.presence(T, "worker")).toMatchObject({ state: "stopped", shutdownRequested: true });
        // (a pane's dead process can stay a zombie under tmux: isPidAlive counts that as gone)
        await until(() => !isPidAlive(pres.pid), `the ${kind} process ${pres.pid} to exit`, 30_000, screen);
        expect(await leadPane.isAlive()).toBe(true);
      } finally {
        await killTmuxServer(socket);
      }
    });
  });
}
