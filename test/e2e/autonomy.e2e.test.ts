/**
 * A team that runs unattended, proven with real pi processes (0.73 and 0.55,
 * scripted model, no network): leads in RPC mode spawn real pi teammates
 * into a headless tmux server on a private socket.
 *
 * - worktree: a teammate in its own worktree commits; the lead merges its branch on its report;
 * - budget: a teammate whose scripted calls report usage is warned at 80 % and
 *   stopped after the call that reaches 100 % (no further call; task back to pending; lead told);
 * - stall: a teammate idle with an in_progress task is nudged once by the lead's
 *   sweep, and the lead hears of it once when it stays idle;
 * - hooks: task_created refuses a task (exit 2, the model sees why), teammate_idle
 *   sends the teammate back to work once (exit 2) and then lets it rest;
 * - template: team_create with a template spawns its two teammates, who greet the lead;
 * - restart: a lead killed with SIGKILL and started again in the same place gets the
 *   mail its running teammate sent meanwhile, exactly once.
 * Every claim is checked in the store's files, the event log and the script log.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { addMember, createTask, createTeam, sendMessage, spawnTeammate, usageReport } from "../../dist/src/index.js";
// Not part of the library's API: the test sets a short stuck threshold the tools do not offer.
import { updateTeam } from "../../dist/src/domain/teams.js";
import { PI_VERSIONS, agentCmdEnv, startPiRpc, writeAgentSettings, type RpcHandle } from "../support/pi-harness.js";
import { EXT, REPO_ROOT, callsSeeing, makeWorld, sleep, until, type PiVersion, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
const sockets: string[] = [];
const rpcs: RpcHandle[] = [];
afterAll(async () => {
  for (const p of rpcs) { try { p.child.kill("SIGKILL"); } catch { /* gone */ } }
  for (const s of sockets) await execa("tmux", ["-S", s, "kill-server"], { reject: false });
  worlds.forEach((w) => w.cleanup());
});

const GIT_ID = { GIT_AUTHOR_NAME: "e2e", GIT_AUTHOR_EMAIL: "e2e@example.invalid", GIT_COMMITTER_NAME: "e2e", GIT_COMMITTER_EMAIL: "e2e@example.invalid" };

/** A world whose spawned teammates are real pi of `version` in a headless tmux server on a private socket. */
function teamWorld(version: PiVersion, script: Script, extra: Record<string, string> = {}): World {
  const w = makeWorld(script, { CLANKER_TEAMS_AGENT_CMD: agentCmdEnv(version), CLANKER_TEAMS_TERMINAL: "headless", CLANKER_TEAMS_GREET_WAIT_MS: "1000", CLANKER_TEAMS_HEARTBEAT_MS: "500", ...GIT_ID, ...extra });
  worlds.push(w);
  const sock = join(w.tmp, "tmux.sock");
  w.env.CLANKER_TEAMS_TMUX_SOCKET = sock;
  sockets.push(sock);
  writeAgentSettings(w.tmp, [EXT]);
  return w;
}

async function rpc(version: PiVersion, w: World, cwd: string, env: Record<string, string> = w.env): Promise<RpcHandle> {
  const pi = await startPiRpc({ version, cwd, env, extensions: [EXT] });
  rpcs.push(pi);
  return pi;
}

/** A git repository with one commit on main. */
function gitRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, env: { ...process.env, ...GIT_ID } });
  git("init", "-q", "-b", "main");
  writeFileSync(join(dir, "README.md"), "shop\n");
  git("add", ".");
  git("commit", "-qm", "start");
  return dir;
}

const trace = (w: World) => () => w.calls().map((c) => `${c.agent}#${c.call}: ${c.lastText.slice(0, 120).replace(/\n/g, " ")} ${c.error ?? ""} -> ${JSON.stringify(c.reply ?? {}).slice(0, 120)}`).slice(-25);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

for (const version of PI_VERSIONS) {
  describe(`unattended team, pi ${version}`, { timeout: 180_000 }, () => {
    it("worktree: the teammate commits on its own branch; the lead merges it when told", async () => {
      const T = "wt";
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [
              { when: "MERGE-ME", on: "user", reply: [{ tool: "teammate_merge", args: { team_name: T, agent_name: "worker" } }, { text: "lead merged" }] },
              {
                when: "^start", on: "user",
                reply: [
                  { tool: "team_create", args: { team_name: T, isolation: "worktree" } },
                  { tool: "task_create", args: { team_name: T, subject: "Add the cart file", description: "Create cart.txt and commit it" } },
                  { tool: "spawn_teammate", args: { team_name: T, name: "worker", prompt: "Do task #1, commit, report.", cwd: "." } },
                  { text: "lead spawned worker" },
                ],
              },
            ],
            default: { text: "lead idle" },
          },
          worker: {
            rules: [
              {
                when: "gives you this assignment", on: "user", times: 1,
                reply: [
                  { tool: "task_claim", args: { team_name: T, task_id: "1" } },
                  { tool: "bash", args: { command: "printf 'cart\\n' > cart.txt && git add cart.txt && git commit -qm 'worker: cart' && git log --oneline -1" } },
                  { tool: "task_update", args: { team_name: T, task_id: "1", status: "completed" } },
                  { tool: "send_message", args: { team_name: T, recipient: "team-lead", summary: "cart done", content: "MERGE-ME: cart.txt is committed on my branch" } },
                  { text: "worker reported" },
                ],
              },
            ],
            default: { text: "worker idle" },
          },
        },
      };
      const w = teamWorld(version, script);
      const repo = gitRepo(join(w.tmp, "shop"));
      const lead = await rpc(version, w, repo);
      await lead.prompt("start");
      const merged = await until(() => w.events(T).find((e) => e.kind === "teammate.merged"), "teammate.merged", 120_000, trace(w));
      expect(merged.data).toMatchObject({ name: "worker", branch: "clanker/wt/worker", mode: "fast-forward" });
      const worker = w.config(T).members.find((m: any) => m.name === "worker");
      expect(worker.worktree).toMatchObject({ repo, branch: "clanker/wt/worker", base: "main" });
      expect(worker.cwd).toBe(worker.worktree.dir);
      expect(worker.cwd.startsWith(join(w.dataDir, "worktrees"))).toBe(true);
      // the commit was made in the worktree (on its branch), and is now on the lead's main
      const log = execFileSync("git", ["log", "--format=%s", "main"], { cwd: repo, encoding: "utf8" });
      expect(log.split("\n")[0]).toBe("worker: cart");
      expect(existsSync(join(repo, "cart.txt"))).toBe(true);
      const bash = callsSeeing(w.calls("worker"), "worker: cart");
      expect(bash.length).toBeGreaterThan(0); // git log's output came back to the worker's model
      const after = await until(() => w.calls("team-lead").find((c) => c.lastToolName === "teammate_merge"), "lead sees the merge result");
      expect(after.lastText).toMatch(/^clanker\/wt\/worker merged into main \(fast-forward [0-9a-f]+\)\.$/);
      expect(w.task(T, "1")).toMatchObject({ status: "completed", owner: "worker" });
    });

    it("budget: warned at 80 %, stopped after the call that reaches 100 % (5 calls of 100 tokens, budget 500): no 6th call, task back to pending, lead told", async () => {
      const T = "bud";
      const spend = { tool: "task_list", args: { team_name: T }, usage: { input: 90, output: 10, cost: 0.01 } };
      const script: Script = {
        agents: {
          spender: {
            rules: [
              { afterTool: "task_list", reply: spend },
              { afterTool: "task_claim", reply: spend },
              { when: "gives you this assignment", on: "user", times: 1, reply: { tool: "task_claim", args: { team_name: T, task_id: "1" }, usage: { input: 90, output: 10, cost: 0.01 } } },
            ],
            default: { text: "spender idle" },
            maxCalls: 30,
          },
        },
      };
      const w = teamWorld(version, script);
      const lead = w.ctx("team-lead", w.tmp);
      await createTeam(lead, { team_name: T });
      await createTask(lead, T, { subject: "Endless work", description: "keep listing" });
      await spawnTeammate(lead, T, { name: "spender", prompt: "Work on task #1.", cwd: w.tmp, budget: { tokens: 500 } });
      const stopped = await until(() => w.presence(T, "spender")?.state === "stopped" && w.presence(T, "spender"), "spender stopped", 120_000, trace(w));
      expect(stopped.error).toBe("stopped: its budget is used up");
      await until(() => !alive(stopped.pid), "spender's pi exited", 20_000);
      await sleep(1500);
      const calls = w.calls("spender");
      expect(calls.map((c) => c.reply?.calls?.[0]?.name ?? "text")).toEqual(["task_claim", "task_list", "task_list", "task_list", "task_list"]);
      expect(stopped.usage).toMatchObject({ tokens: 500, calls: 5 });
      const report = await usageReport(lead, T);
      expect(report.members.find((m: any) => m.agent === "spender")!.used).toMatchObject({ tokens: 500, calls: 5 });
      expect(report.members.find((m: any) => m.agent === "spender")!.used.costUsd).toBeCloseTo(0.05, 6);
      const t = w.task(T, "1");
      expect(t.status).toBe("pending");
      expect(t.owner).toBeUndefined();
      expect(t.fenced?.[0]).toMatchObject({ agent: "spender", reason: "spender stopped: its budget is used up" });
      const leadMail = (await w.spool(T, "team-lead")).filter((m) => m.from === "clanker-teams").map((m) => m.kind);
      expect(leadMail).toEqual(["budget_warning", "budget_exhausted", "tasks_recovered"]);
      const ev = w.events(T).map((e) => e.kind);
      expect(ev.filter((k) => k === "budget.warned")).toHaveLength(1);
      expect(ev.filter((k) => k === "budget.exhausted")).toHaveLength(1);
      expect(w.inbox(T, "spender")?.messages.find((m) => m.kind === "budget_warning")?.content).toMatch(/^You have used 400 tokens, \$0\.0400 \(80 % of 500 tokens\) of your budget/);
    });

    it("stall: an idle teammate holding an in_progress task is nudged once by the lead's sweep; still idle, the lead is told once", async () => {
      const T = "stall";
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [
              { when: "sleepy is stuck on task #1", on: "user", reply: { text: "LEAD SAW STUCK" } },
              {
                when: "^make team", on: "user",
                reply: [
                  { tool: "team_create", args: { team_name: T } },
                  { tool: "task_create", args: { team_name: T, subject: "Stalled job", description: "STALL-SPEC: port the parser" } },
                  { tool: "spawn_teammate", args: { team_name: T, name: "sleepy", prompt: "Claim task #1.", cwd: "." } },
                  { text: "lead spawned sleepy" },
                ],
              },
            ],
            default: { text: "lead idle" },
          },
          sleepy: {
            rules: [
              { when: "You have been idle for", on: "user", reply: { text: "NUDGE SEEN; still thinking" } },
              { when: "gives you this assignment", on: "user", times: 1, reply: [{ tool: "task_claim", args: { team_name: T, task_id: "1" } }, { text: "claimed; thinking" }] },
            ],
            default: { text: "sleepy idle" },
          },
        },
      };
      const w = teamWorld(version, script);
      const lead = await rpc(version, w, w.tmp);
      await lead.prompt("make team");
      await until(() => w.config(T), "team created", 60_000, trace(w));
      await updateTeam(w.ctx(), T, (c: any) => { c.stuckAfterMs = 3000; return { value: undefined, write: true }; });
      const nudged = await until(() => callsSeeing(w.calls("sleepy"), "You have been idle for")[0], "sleepy nudged", 90_000, trace(w));
      expect(nudged.lastText).toContain(`task #1 "Stalled job" is yours and in_progress:\nSTALL-SPEC: port the parser`);
      const told = await until(() => callsSeeing(w.calls("team-lead"), "sleepy is stuck on task #1")[0], "lead told", 60_000, trace(w));
      expect(told.lastText).toMatch(/sleepy is alive but has been idle for \d+ s while it owns task #1 "Stalled job" \(in_progress\), even after a nudge/);
      await sleep(8000); // several thresholds and sweeps later: nothing more
      expect(callsSeeing(w.calls("sleepy"), "You have been idle for")).toHaveLength(1);
      expect(callsSeeing(w.calls("team-lead"), "is stuck on task")).toHaveLength(1);
      const ev = w.events(T).map((e) => e.kind);
      expect(ev.filter((k) => k === "teammate.nudged")).toHaveLength(1);
      expect(ev.filter((k) => k === "teammate.stuck")).toHaveLength(1);
      expect(w.task(T, "1")).toMatchObject({ status: "in_progress", owner: "sleepy" });
    });

    it("hooks: task_created refuses a task (the model sees why, nothing stored); teammate_idle sends the teammate back once, then lets it rest", async () => {
      const T = "hooks";
      const script: Script = {
        agents: {
          alice: {
            rules: [
              { when: "IDLE-HOOK", on: "user", reply: { text: "linted, done" } },
              {
                when: "^make tasks", on: "user",
                reply: [
                  { tool: "task_create", args: { team_name: T, subject: "Vague", description: "" } },
                  { tool: "task_create", args: { team_name: T, subject: "Clear", description: "Done when: the cart tests pass" } },
                  { text: "tasks made" },
                ],
              },
            ],
            default: { text: "ok" },
          },
        },
      };
      const w = teamWorld(version, script, { CLANKER_TEAM_NAME: T, CLANKER_AGENT_NAME: "alice" });
      const repo = join(w.tmp, "repo");
      mkdirSync(join(repo, ".clanker", "team-hooks"), { recursive: true });
      execFileSync("cp", [join(REPO_ROOT, "hooks", "task-policy.sh"), join(repo, ".clanker", "team-hooks", "task_created.sh")]);
      const once = join(w.tmp, "idle-hook-ran");
      const idle = join(repo, ".clanker", "team-hooks", "teammate_idle.sh");
      writeFileSync(idle, `#!/bin/sh\nif [ -e '${once}' ]; then echo "fine, rest"; exit 0; fi\n: > '${once}'\necho "IDLE-HOOK: run the linter before you stop (feedback $CLANKER_IDLE_FEEDBACK_COUNT)"\nexit 2\n`);
      chmodSync(idle, 0o755);
      const lead = w.ctx();
      await createTeam(lead, { team_name: T });
      await addMember(lead, T, { name: "alice", role: "teammate" });
      const alice = await rpc(version, w, repo);
      await alice.prompt("make tasks");
      const back = await until(() => callsSeeing(w.calls("alice"), "IDLE-HOOK")[0], "idle hook feedback reaches alice", 60_000, trace(w));
      expect(back.lastText).toBe("[clanker-teams] The repo's teammate_idle hook (exit 2) sends this back; keep working on it:\nIDLE-HOOK: run the linter before you stop (feedback 0)");
      await until(() => w.events(T).filter((e) => e.kind === "hook.ran" && e.data.hook === "teammate_idle").length >= 2, "the idle hook's second run");
      await alice.waitIdle();
      await sleep(2000);
      expect(callsSeeing(w.calls("alice"), "IDLE-HOOK")).toHaveLength(1);
      const idleRuns = w.events(T).filter((e) => e.kind === "hook.ran" && e.data.hook === "teammate_idle").map((e) => [e.data.outcome, e.data.feedbackCount]);
      expect(idleRuns).toEqual([["veto", 0], ["ok", 1]]);
      // task_created: the vague task was refused with the hook's reason (the model saw it), the clear one created
      const refused = w.calls("alice").find((c) => c.lastToolName === "task_create" && /refused/.test(c.lastText));
      expect(refused?.lastText).toMatch(/task_create refused by the repo's task_created hook \(exit 2\):\nTask "Vague" refused: its description is empty\./);
      expect(w.task(T, "1")).toMatchObject({ subject: "Clear" });
      expect(w.task(T, "2")).toBeUndefined();
      const created = w.events(T).filter((e) => e.kind === "hook.ran" && e.data.hook === "task_created").map((e) => e.data.outcome);
      expect(created).toEqual(["veto", "ok"]);
    });

    it("template: team_create with a template spawns its two teammates, who start and greet the lead", async () => {
      const T = "tpl";
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [{ when: "^make team", on: "user", reply: [{ tool: "team_create", args: { team_name: T, template: "pair" } }, { text: "team from template" }] }],
            default: { text: "lead idle" },
          },
          "*": { default: { text: "teammate ready" } },
        },
      };
      const w = teamWorld(version, script);
      const repo = gitRepo(join(w.tmp, "proj"));
      mkdirSync(join(repo, ".clanker", "teams"), { recursive: true });
      writeFileSync(join(repo, ".clanker", "teams", "pair.yaml"), "description: Two of a kind\nstuck_after_s: 120\nmembers:\n  - name: builder\n    prompt: Build what team-lead asks.\n  - name: checker\n    prompt: Review what builder does.\n    plan_mode_required: true\n");
      const lead = await rpc(version, w, repo);
      await lead.prompt("make team");
      const made = await until(() => w.calls("team-lead").find((c) => c.lastToolName === "team_create"), "team_create result", 60_000, trace(w));
      expect(made.lastText).toBe(`Team "${T}" created from ${join(repo, ".clanker", "teams", "pair.yaml")}; you are team-lead. Spawned: builder, checker.`);
      const cfg = w.config(T);
      expect(cfg).toMatchObject({ description: "Two of a kind", stuckAfterMs: 120_000 });
      expect(cfg.members.map((m: any) => [m.name, m.pane?.kind, m.planModeRequired])).toEqual([["team-lead", undefined, undefined], ["builder", "headless", false], ["checker", "headless", true]]);
      for (const name of ["builder", "checker"]) {
        await until(() => callsSeeing(w.calls("team-lead"), `${name} is up`).length, `${name}'s greeting reaches the lead`, 90_000, trace(w));
        expect(["idle", "busy"]).toContain(w.presence(T, name)?.state);
        expect(w.calls(name)[0]!.lastText).toContain(`You are ${name}, a teammate in team "${T}"`);
      }
    });

    it("restart: the lead is killed; its teammate keeps running and reports; the lead started again in the same place gets that mail exactly once", async () => {
      const T = "phoenix";
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [
              { when: "WORKER-REPORT-42", on: "user", reply: { text: "LEAD GOT THE REPORT" } },
              { when: "^make team", on: "user", reply: [{ tool: "team_create", args: { team_name: T } }, { tool: "spawn_teammate", args: { team_name: T, name: "worker", prompt: "Wait for instructions.", cwd: "." } }, { text: "spawned" }] },
            ],
            default: { text: "lead idle" },
          },
          worker: {
            rules: [{ when: "REPORT-NOW", on: "user", reply: [{ tool: "send_message", args: { team_name: T, recipient: "team-lead", summary: "report", content: "WORKER-REPORT-42: all done" } }, { text: "reported" }] }],
            default: { text: "worker waiting" },
          },
        },
      };
      const w = teamWorld(version, script);
      const first = await rpc(version, w, w.tmp);
      await first.prompt("make team");
      await until(() => callsSeeing(w.calls("team-lead"), "worker is up").length, "the worker's greeting reaches the first lead", 90_000, trace(w));
      const firstPid = first.child.pid!;
      first.child.kill("SIGKILL");
      await first.exited;
      // while the lead is down, its teammate keeps running and reports
      await sendMessage(w.ctx(), T, { recipient: "worker", summary: "report now", content: "REPORT-NOW" });
      await until(async () => (await w.spool(T, "team-lead")).some((m) => m.content.startsWith("WORKER-REPORT-42")), "the report waits in the lead's inbox", 60_000, trace(w));
      const workerPid = w.presence(T, "worker").pid;
      expect(alive(workerPid)).toBe(true);
      // started again where it was, with no prompt: it takes up its team and gets the report once
      const second = await rpc(version, w, w.tmp);
      const got = await until(() => w.calls("team-lead").find((c) => c.pid === second.child.pid && c.lastText.includes("WORKER-REPORT-42")), "the restarted lead sees the report", 30_000, trace(w));
      expect(got.lastText).toContain(`new message in team "${T}"`);
      expect(got.systemPrompt).toContain(`you lead team(s) "${T}"`);
      await second.waitIdle();
      await sleep(3000);
      expect(callsSeeing(w.calls("team-lead"), "WORKER-REPORT-42")).toHaveLength(1);
      expect(await w.spool(T, "team-lead")).toEqual([]);
      await until(() => w.presence(T, "team-lead")?.pid === second.child.pid, "the new lead's presence");
      expect(w.presence(T, "team-lead").pid).not.toBe(firstPid);
      expect(alive(workerPid)).toBe(true);
      expect(["idle", "busy"]).toContain(w.presence(T, "worker").state);
      // and it goes on leading: new mail reaches it at once
      await sendMessage(w.ctx("worker"), T, { recipient: "team-lead", summary: "again", content: "SECOND-REPORT" });
      await until(() => callsSeeing(w.calls("team-lead"), "SECOND-REPORT").length, "later mail reaches the restarted lead", 30_000);
    });
  });
}
