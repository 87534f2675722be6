// REAL processes: private tmux servers (own sockets under a temp dir, never the user's server) running
// stand-in agents (test/fixtures/stand-in-agent.mjs) through the tools. Everything is killed in afterAll.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCtx, type Ctx } from "../dist/src/context.js";
import { readEvents } from "../dist/src/domain/events.js";
import { readInbox } from "../dist/src/domain/messages.js";
import { getTask } from "../dist/src/domain/tasks.js";
import { writePresence } from "../dist/src/domain/presence.js";
import { addMember, readTeam, updateTeam } from "../dist/src/domain/teams.js";
import { extensionPath, initialPrompt } from "../dist/src/agents/teammates.js";
import { headlessSessionName } from "../dist/src/agents/terminals/headless.js";
import { isPidAlive } from "../dist/src/agents/terminals/process.js";
import { callTool } from "../dist/src/tools/table.js";
import { hostileStrings, startTmuxServer, waitFor, type TmuxServer } from "./fixtures/recorder/helpers.js";

const STANDIN = path.resolve("test/fixtures/stand-in-agent.mjs");
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "ct-mates-")));
const dataDir = path.join(tmp, "data");
const outDir = path.join(tmp, "reports");
const work = path.join(tmp, "work");
const headlessSocket = path.join(tmp, "headless.sock");
const canary = path.join(tmp, "CANARY");
for (const d of [dataDir, outDir, work]) fs.mkdirSync(d);

let server: TmuxServer;
const started = new Set<number>(); // every stand-in pid, killed in afterAll whatever happened

beforeAll(async () => {
  server = await startTmuxServer();
});

afterAll(async () => {
  for (const pid of started) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  await server?.kill();
  await execa("tmux", ["-S", headlessSocket, "kill-server"], { reject: false });
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The lead's environment: built from scratch so nothing of the test runner's own tmux leaks in. */
function leadEnv(extra: Record<string, string> = {}, inTmux = true): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    CLANKER_TEAMS_DIR: dataDir,
    CLANKER_TEAMS_AGENT_CMD: JSON.stringify([process.execPath, STANDIN]),
    CLANKER_STANDIN_OUT: outDir,
    ...(inTmux ? server.env : {}),
    ...extra,
  };
}

const noHook = async () => ({ ran: false, outcome: "missing" as const });
const lead = (extra: Record<string, string> = {}, inTmux = true): Ctx => makeCtx({ dataDir, actor: "team-lead", env: leadEnv(extra, inTmux), cwd: work, runHook: noHook });
const as = (actor: string): Ctx => makeCtx({ dataDir, actor, env: leadEnv(), cwd: work, runHook: noHook });

interface Report { argv: string[]; cwd: string; pid: number; env: Record<string, string> }
const report = (pid: number) => waitFor(() => {
  const f = path.join(outDir, `${pid}.json`);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as Report) : undefined;
}, 10_000, `stand-in ${pid} report`);

async function spawn(ctx: Ctx, team: string, args: Record<string, unknown>) {
  const r = await callTool(ctx, "spawn_teammate", { team_name: team, prompt: "Do the thing.", cwd: work, ...args });
  const pane = r.details.pane as { kind: string; paneId: string; pid: number; socket: string; session?: string };
  started.add(pane.pid);
  return { r, pane };
}

const check = async (team: string, name: string) => (await callTool(lead(), "check_teammate", { team_name: team, agent_name: name })).details as Record<string, any>;
const untilIdle = (team: string, name: string) => waitFor(async () => ((await check(team, name)).state === "idle" ? true : undefined), 10_000, `${name} idle`);
const members = async (team: string) => (await readTeam(lead(), team)).members.map((m) => m.name);
const panesOf = async () => (await server.tmux(["list-panes", "-a", "-F", "#{pane_id}"])).split("\n").filter(Boolean).sort();
const paneExists = async (id: string) => (await panesOf()).includes(id);
const createTeam = (team: string, extra: Record<string, unknown> = {}) => callTool(lead(), "team_create", { team_name: team, description: "t", ...extra });
const kinds = async (team: string) => (await readEvents(lead(), team)).map((e) => e.kind);

describe("teammates in tmux (real)", () => {
  it("spawns a stand-in in the lead's window with the expected argv, env, member, event; check_teammate reports it", async () => {
    await createTeam("alpha", { default_model: "team-model" });
    const { r, pane } = await spawn(lead({ CLANKER_DEFAULT_THINKING_LEVEL: "low" }), "alpha", { name: "alice", prompt: "Write the tests." });
    const rep = await report(pane.pid);
    expect(fs.existsSync(extensionPath())).toBe(true);
    expect(extensionPath()).toMatch(/dist\/src\/hosts\/pi-extension\.js$/);
    expect(rep.argv).toEqual([process.execPath, STANDIN, "--model", "team-model", "--thinking", "low", "-e", extensionPath(), initialPrompt("alpha", "alice", "Write the tests.")]);
    expect(rep.cwd).toBe(work);
    expect(rep.env).toEqual({ CLANKER_TEAM_NAME: "alpha", CLANKER_AGENT_NAME: "alice", CLANKER_TEAMS_DIR: dataDir, CLANKER_AGENT_MODEL: "team-model", PATH: process.env.PATH });
    expect(r.text).toMatch(/^Spawned alice in tmux pane %\d+/);

    // A new pane in the lead's own window, alive, titled after the teammate.
    expect(pane).toMatchObject({ kind: "tmux", socket: server.socket });
    const win = (id: string) => server.tmux(["display-message", "-p", "-t", id, "#{window_id}"]);
    expect(await win(pane.paneId)).toBe(await win(server.lead));
    expect(await server.tmux(["display-message", "-p", "-t", pane.paneId, "#{pane_title}"])).toBe("alice");
    expect(isPidAlive(pane.pid)).toBe(true);

    const m = (await readTeam(lead(), "alpha")).members.find((x) => x.name === "alice")!;
    expect(m).toMatchObject({ role: "teammate", model: "team-model", thinking: "low", cwd: work, pane: { kind: "tmux", paneId: pane.paneId, pid: pane.pid } });
    const ev = (await readEvents(lead(), "alpha")).find((e) => e.kind === "teammate.spawned")!;
    expect(ev.data).toMatchObject({ name: "alice", pane: pane.paneId, kind: "tmux", pid: pane.pid, model: "team-model", thinking: "low", replaced: false });

    await untilIdle("alpha", "alice");
    await callTool(lead(), "send_message", { team_name: "alpha", recipient: "alice", content: "hello", summary: "hi" });
    await callTool(lead(), "task_create", { team_name: "alpha", subject: "S", description: "D" });
    await callTool(as("alice"), "task_claim", { team_name: "alpha", task_id: "1" });
    const s = await callTool(lead(), "check_teammate", { team_name: "alpha", agent_name: "alice" });
    expect(s.details).toMatchObject({ running: true, state: "idle", paneAlive: true, processAlive: true, unread: 1, currentTask: "1" });
    expect(s.text).toMatch(/^alice: running, idle .*1 unread; task #1\./);
  });

  it("takes thinking from the call, then CLANKER_DEFAULT_THINKING_LEVEL, then the team; model from the call over default_model", async () => {
    await createTeam("beta", { default_model: "team-model" });
    await updateTeam(lead(), "beta", (c) => { c.defaultThinking = "medium"; return { value: undefined, write: true }; });
    const a = await spawn(lead({ CLANKER_DEFAULT_THINKING_LEVEL: "low" }), "beta", { name: "explicit", model: "own-model", thinking: "high", plan_mode_required: true });
    const b = await spawn(lead(), "beta", { name: "team-default" });
    const ra = await report(a.pane.pid);
    const rb = await report(b.pane.pid);
    expect(ra.argv.slice(2, 6)).toEqual(["--model", "own-model", "--thinking", "high"]);
    expect(ra.env.CLANKER_PLAN_MODE_REQUIRED).toBe("1");
    expect(rb.argv.slice(2, 6)).toEqual(["--model", "team-model", "--thinking", "medium"]);
    expect(rb.env.CLANKER_PLAN_MODE_REQUIRED).toBeUndefined();
    await expect(callTool(lead({ CLANKER_DEFAULT_THINKING_LEVEL: "huge" }), "spawn_teammate", { team_name: "beta", name: "x", prompt: "p", cwd: work }))
      .rejects.toThrow(/CLANKER_DEFAULT_THINKING_LEVEL: must be one of off, minimal, low, medium, high/);
    await callTool(lead(), "team_delete", { team_name: "beta" });
  });

  it("passes a hostile name, prompt, model and cwd byte for byte and runs none of it", async () => {
    const hostileDir = path.join(tmp, `cwd 'q' "d" $(touch CANARY) ; \`touch CANARY\` #(touch CANARY) #{pane_id} \\ -\nnl;`);
    fs.mkdirSync(hostileDir);
    await createTeam("gamma");
    const name = `q'"$(touch CANARY)\`touch CANARY\`;#(touch CANARY)#{pane_id}`;
    const prompt = "-" + hostileStrings(canary).join("\n");
    const model = `m'"$(touch ${canary})\`touch CANARY\`;#(touch CANARY) -x;`;
    const { pane } = await spawn(lead(), "gamma", { name, prompt, model, cwd: hostileDir });
    const rep = await report(pane.pid);
    expect(rep.argv).toEqual([process.execPath, STANDIN, "--model", model, "-e", extensionPath(), initialPrompt("gamma", name, prompt)]);
    expect(rep.argv.at(-1)!.endsWith("\n\n" + prompt)).toBe(true);
    expect(rep.cwd).toBe(hostileDir);
    expect(rep.env).toMatchObject({ CLANKER_AGENT_NAME: name, CLANKER_TEAM_NAME: "gamma", CLANKER_AGENT_MODEL: model });
    expect(await server.tmux(["display-message", "-p", "-t", pane.paneId, "#{pane_title}"])).toBe(name);

    const at = await spawn(lead(), "gamma", { name: "at", prompt: "@/etc/passwd", cwd: hostileDir });
    expect((await report(at.pane.pid)).argv.at(-1)).toBe(initialPrompt("gamma", "at", "@/etc/passwd"));
    await untilIdle("gamma", name); // its presence file has the hostile name too
    await new Promise((r) => setTimeout(r, 300)); // give any #() job a chance to (not) run
    const found = execFileSync("find", [tmp, process.cwd(), "-maxdepth", "3", "-name", "CANARY"], { encoding: "utf8" });
    expect(found).toBe("");

    // A name with a newline is refused up front and starts nothing.
    const before = await panesOf();
    const eventsBefore = (await readEvents(lead(), "gamma")).length;
    await expect(callTool(lead(), "spawn_teammate", { team_name: "gamma", name: "evil\nname", prompt: "p", cwd: work }))
      .rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringMatching(/^name: contains a control character/) });
    expect(await panesOf()).toEqual(before);
    expect(await members("gamma")).toEqual(["team-lead", name, "at"]);
    expect(await readEvents(lead(), "gamma")).toHaveLength(eventsBefore);
    await callTool(lead(), "team_delete", { team_name: "gamma" });
  });

  it("a failed spawn leaves no member, message or pane; a live name is a CONFLICT, a dead one is replaced", async () => {
    await createTeam("delta");
    const before = await panesOf();
    const cfgBefore = await readTeam(lead(), "delta");
    const fails: Array<[Ctx, RegExp]> = [
      [lead({ CLANKER_TEAMS_TERMINAL: "zellij", PATH: path.dirname(process.execPath) }), /could not open a zellij pane for carol: .*zellij/i],
      [lead({ CLANKER_TEAMS_AGENT_CMD: JSON.stringify([path.join(tmp, "no-such-agent")]) }), /CLANKER_TEAMS_AGENT_CMD: ".*no-such-agent" is not an executable file/],
      [lead({ CLANKER_TEAMS_AGENT_CMD: "no-such-agent-xyz --flag" }), /CLANKER_TEAMS_AGENT_CMD: "no-such-agent-xyz" is not on PATH/],
      [lead({ CLANKER_TEAMS_TERMINAL: "kitty" }), /no terminal to open a pane for carol: CLANKER_TEAMS_TERMINAL="kitty" is not a terminal/],
    ];
    for (const [ctx, msg] of fails) {
      await expect(callTool(ctx, "spawn_teammate", { team_name: "delta", name: "carol", prompt: "p", cwd: work })).rejects.toThrow(msg);
      expect((await readTeam(lead(), "delta")).members).toEqual(cfgBefore.members);
      expect(await panesOf()).toEqual(before);
      expect((await readInbox(lead(), "delta", { agent_name: "team-lead" })).messages).toEqual([]);
      expect((await readEvents(lead(), "delta")).filter((e) => e.kind.startsWith("message."))).toEqual([]);
    }

    const first = await spawn(lead(), "delta", { name: "carol" });
    await untilIdle("delta", "carol");
    await expect(callTool(lead(), "spawn_teammate", { team_name: "delta", name: "carol", prompt: "p", cwd: work }))
      .rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/teammate "carol" is already running \(idle\)/) });
    await expect(callTool(lead(), "spawn_teammate", { team_name: "delta", name: "CAROL", prompt: "p", cwd: work })).rejects.toThrow(/case-insensitive/);

    process.kill(first.pane.pid, "SIGKILL"); // crashed
    await waitFor(async () => ((await check("delta", "carol")).running === false ? true : undefined), 5000, "carol dead");
    expect(await check("delta", "carol")).toMatchObject({ running: false, state: "dead" });
    const second = await spawn(lead(), "delta", { name: "carol" });
    expect(second.r.details.replaced).toBe(true);
    expect(second.r.text).toMatch(/^Replaced dead teammate; spawned carol/);
    expect(second.pane.pid).not.toBe(first.pane.pid);
    await untilIdle("delta", "carol");
    expect(await members("delta")).toEqual(["team-lead", "carol"]);
    expect(await paneExists(first.pane.paneId)).toBe(false);

    // Two spawns race to replace the dead teammate: one wins, the other is told, one pane runs.
    process.kill(second.pane.pid, "SIGKILL");
    await waitFor(async () => ((await check("delta", "carol")).running === false ? true : undefined), 5000, "carol dead again");
    const panes0 = await panesOf();
    const racing = await Promise.allSettled([1, 2].map(() => callTool(lead(), "spawn_teammate", { team_name: "delta", name: "carol", prompt: "p", cwd: work })));
    const won = racing.filter((r) => r.status === "fulfilled");
    const lost = racing.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toMatchObject({ code: "CONFLICT" });
    expect((await panesOf()).filter((p) => !panes0.includes(p))).toHaveLength(1); // the loser opened none
    expect(await members("delta")).toEqual(["team-lead", "carol"]);
    await untilIdle("delta", "carol");
    await callTool(lead(), "team_delete", { team_name: "delta" });
  });

  it("force_kill_teammate ends the process, closes the pane, removes the member and releases its unfinished tasks", async () => {
    await createTeam("eps");
    const { pane } = await spawn(lead(), "eps", { name: "dave" });
    await untilIdle("eps", "dave");
    const dave = as("dave");
    for (const s of ["working", "planning", "done"]) await callTool(lead(), "task_create", { team_name: "eps", subject: s, description: "" });
    await callTool(dave, "task_claim", { team_name: "eps", task_id: "1" });
    await callTool(dave, "task_submit_plan", { team_name: "eps", task_id: "2", plan: "1. do it" });
    await callTool(lead(), "task_update", { team_name: "eps", task_id: "3", owner: "dave" });
    await callTool(dave, "task_update", { team_name: "eps", task_id: "3", status: "completed" });
    expect(await getTask(lead(), "eps", "2")).toMatchObject({ status: "planning", owner: "dave" });
    await readInbox(lead(), "eps"); // start from an empty lead inbox

    const r = await callTool(lead(), "force_kill_teammate", { team_name: "eps", agent_name: "dave" });
    expect(r.details.releasedTasks).toEqual(["1", "2"]);
    expect(r.text).toMatch(/^dave killed \(process \d+ ended.*\) and removed\. Tasks back to pending: #1, #2\./);
    expect(isPidAlive(pane.pid)).toBe(false);
    expect(await paneExists(pane.paneId)).toBe(false);
    expect(await members("eps")).toEqual(["team-lead"]);
    expect(fs.existsSync(path.join(dataDir, "teams", "eps", "runtime", "dave.json"))).toBe(false);
    for (const id of ["1", "2"]) {
      const t = await getTask(lead(), "eps", id);
      expect(t.status).toBe("pending");
      expect(t.owner).toBeUndefined();
    }
    expect(await getTask(lead(), "eps", "3")).toMatchObject({ status: "completed", owner: "dave" });
    expect((await readEvents(lead(), "eps")).filter((e) => e.kind === "task.recovered").map((e) => e.data)).toMatchObject([{ owner: "dave", ids: ["1"] }, { owner: "dave", ids: ["2"] }]);
    expect(await kinds("eps")).toContain("teammate.killed");
    const inbox = await readInbox(lead(), "eps");
    expect(inbox.messages.map((m) => m.kind)).toContain("tasks_recovered");
    expect(inbox.messages.find((m) => m.kind === "tasks_recovered")!.content).toMatch(/#1 "working", #2 "planning" of dave are pending again/);
    await expect(callTool(as("dave"), "force_kill_teammate", { team_name: "eps", agent_name: "dave" })).rejects.toThrow(/not a member|only team-lead/);
  });

  it("force_kill_teammate returns only once the process is gone: its pid is free at once (tmux would leave some a zombie)", async () => {
    await createTeam("kappa");
    // Killed through the pane (no presence file: killed before it reported in), and stand-ins killed by their presence pid.
    const sleeper = lead({ CLANKER_TEAMS_AGENT_CMD: JSON.stringify(["/bin/sh", "-c", "exec sleep 300", "sh"]) });
    const mates = [];
    for (let i = 0; i < 10; i++) mates.push({ name: `s${i}`, ...(await spawn(sleeper, "kappa", { name: `s${i}` })) });
    for (let i = 0; i < 3; i++) mates.push({ name: `p${i}`, ...(await spawn(lead(), "kappa", { name: `p${i}` })) });
    for (let i = 0; i < 3; i++) await untilIdle("kappa", `p${i}`);
    await new Promise((r) => setTimeout(r, 300)); // the sleepers have exec'ed sleep
    const exists = (pid: number) => { try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; } };
    for (const m of mates) {
      expect(isPidAlive(m.pane.pid), m.name).toBe(true);
      const r = await callTool(lead(), "force_kill_teammate", { team_name: "kappa", agent_name: m.name });
      expect(exists(m.pane.pid), `${m.name}: pid ${m.pane.pid} right after "${r.text}"`).toBe(false);
      expect(r.details.exiting).toEqual([]);
      expect(r.text).toMatch(new RegExp(`^${m.name} killed \\((process \\d+ ended|pane %\\d+ closed).*\\) and removed\\.$`));
      expect(await paneExists(m.pane.paneId)).toBe(false);
    }
    expect(await members("kappa")).toEqual(["team-lead"]);
    await callTool(lead(), "team_delete", { team_name: "kappa" });
  });

  it("process_shutdown_approved: a cooperative teammate exits at once; a stubborn one is killed after the grace period", async () => {
    await createTeam("zeta");
    const grace = { CLANKER_SHUTDOWN_GRACE_MS: "1500" };
    const erin = await spawn(lead(), "zeta", { name: "erin" });
    const frank = await spawn(lead({ CLANKER_STANDIN_IGNORE_SHUTDOWN: "1" }), "zeta", { name: "frank" });
    await untilIdle("zeta", "erin");
    await untilIdle("zeta", "frank");
    await callTool(lead(), "task_create", { team_name: "zeta", subject: "frank's", description: "" });
    await callTool(as("frank"), "task_claim", { team_name: "zeta", task_id: "1" });

    const e = await callTool(lead(grace), "process_shutdown_approved", { team_name: "zeta", agent_name: "erin" });
    expect(e.details).toMatchObject({ exited: true, killed: false });
    expect(e.details.waitedMs).toBeLessThan(1500);
    expect(e.text).toMatch(/^erin exited after \d\.\d s and was removed\.$/);
    await waitFor(() => !isPidAlive(erin.pane.pid), 3000, "erin's pid gone");
    expect(await paneExists(erin.pane.paneId)).toBe(false);

    const f = await callTool(lead(grace), "process_shutdown_approved", { team_name: "zeta", agent_name: "frank" });
    expect(f.details).toMatchObject({ exited: false, killed: true, releasedTasks: ["1"] });
    expect(f.details.waitedMs).toBeGreaterThanOrEqual(1500);
    expect(f.text).toMatch(/^frank did not exit in time and was killed after \d\.\d s and was removed\. Tasks back to pending: #1\.$/);
    expect(isPidAlive(frank.pane.pid)).toBe(false);
    expect(await paneExists(frank.pane.paneId)).toBe(false);
    expect(await members("zeta")).toEqual(["team-lead"]);
    expect((await kinds("zeta")).filter((k) => k === "teammate.stopped")).toHaveLength(2);

    // frank never read its shutdown request: a new frank must not obey that stale one.
    const again = await spawn(lead(), "zeta", { name: "frank" });
    expect(again.r.details.replaced).toBe(false);
    await untilIdle("zeta", "frank");
    await new Promise((r) => setTimeout(r, 500)); // the stand-in polls its inbox every 100 ms
    expect(isPidAlive(again.pane.pid)).toBe(true);
    expect((await check("zeta", "frank")).unread).toBe(0);
    await callTool(lead(), "team_delete", { team_name: "zeta" });
  });

  it("team_delete stops running teammates before removing the data", async () => {
    await createTeam("eta");
    const a = await spawn(lead(), "eta", { name: "a1" });
    const b = await spawn(lead(), "eta", { name: "b1" });
    await untilIdle("eta", "a1");
    await untilIdle("eta", "b1");
    const r = await callTool(lead(), "team_delete", { team_name: "eta" });
    expect(r.details.stopped).toEqual(["a1", "b1"]);
    expect(r.text).toBe('Team "eta" deleted; stopped a1, b1.');
    for (const p of [a.pane, b.pane]) {
      expect(isPidAlive(p.pid)).toBe(false);
      expect(await paneExists(p.paneId)).toBe(false);
    }
    for (const d of ["teams", "tasks", "messages"]) expect(fs.existsSync(path.join(dataDir, d, "eta"))).toBe(false);
    await new Promise((r) => setTimeout(r, 1200)); // a surviving teammate would heartbeat the team dir back
    expect(fs.existsSync(path.join(dataDir, "teams", "eta"))).toBe(false);
  });

  it("concurrent spawns from one lead all start, in one column to the right of the lead", async () => {
    await createTeam("theta");
    const spawned = await Promise.all(["c1", "c2", "c3"].map((name) => spawn(lead(), "theta", { name })));
    await Promise.all(spawned.map((x) => report(x.pane.pid)));
    expect((await members("theta")).sort()).toEqual(["c1", "c2", "c3", "team-lead"]);
    const rows = (await server.tmux(["list-panes", "-t", server.lead, "-F", "#{pane_id} #{pane_left}"])).split("\n").map((l) => l.split(" "));
    const left = (id: string) => rows.find((r) => r[0] === id)?.[1];
    const lefts = new Set(spawned.map((x) => left(x.pane.paneId)));
    expect(lefts.size).toBe(1); // one column, all in the lead's window
    expect(Number([...lefts][0])).toBeGreaterThan(Number(left(server.lead)));
    // Two spawns of one new name at once: exactly one wins.
    const twins = await Promise.allSettled([1, 2].map(() => spawn(lead(), "theta", { name: "twin" })));
    expect(twins.map((t) => t.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(String((twins.find((t) => t.status === "rejected") as PromiseRejectedResult).reason)).toMatch(/teammate "twin" is already running \(starting\)/);
    expect((await members("theta")).filter((n) => n === "twin")).toHaveLength(1);
    // The longest name in a script that triples when encoded: its spawn lock still works.
    const long = "日".repeat(64);
    const l = await spawn(lead(), "theta", { name: long });
    expect((await report(l.pane.pid)).env.CLANKER_AGENT_NAME).toBe(long);
    expect(await members("theta")).toContain(long);
    await callTool(lead(), "team_delete", { team_name: "theta" });
  });

  it("never kills a pid named only by an old presence file (the OS may have reused it)", async () => {
    await createTeam("iota");
    await addMember(lead(), "iota", { name: "ghost", role: "teammate" });
    const bystander = execa("sleep", ["30"], { reject: false });
    await writePresence(lead(), "iota", "ghost", { pid: bystander.pid!, state: "idle", heartbeatAt: new Date(Date.now() - 60_000).toISOString() });
    expect(await check("iota", "ghost")).toMatchObject({ running: false, state: "dead" });
    const r = await callTool(lead(), "force_kill_teammate", { team_name: "iota", agent_name: "ghost" });
    expect(r.details.actions).toEqual([]);
    expect(isPidAlive(bystander.pid!)).toBe(true);
    expect(await members("iota")).toEqual(["team-lead"]);
    bystander.kill("SIGKILL");
    await bystander;
    await callTool(lead(), "team_delete", { team_name: "iota" });
  });

  it("force_kill_teammate says which pid is still exiting when it does not go within the bound", async () => {
    await createTeam("lambda");
    await addMember(lead(), "lambda", { name: "undead", role: "teammate" });
    // A zombie whose parent never reaps it: `sleep 0 &` becomes a child of the exec'ed `sleep 30`.
    const parent = execa("sh", ["-c", "sleep 0 & echo $!; exec sleep 30"], { reject: false, buffer: false });
    const zombie = await new Promise<number>((resolve) => parent.stdout!.once("data", (b: Buffer) => resolve(Number(b.toString().trim()))));
    try {
      await waitFor(() => !isPidAlive(zombie) || undefined, 5000, "the child to be a zombie");
      await writePresence(lead(), "lambda", "undead", { pid: zombie, state: "idle" });
      const t0 = Date.now();
      const r = await callTool(lead(), "force_kill_teammate", { team_name: "lambda", agent_name: "undead" });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
      expect(r.details.exiting).toEqual([zombie]);
      expect(r.text).toBe(`undead removed, but process ${zombie} is still exiting.`);
      expect(await members("lambda")).toEqual(["team-lead"]);
    } finally {
      parent.kill("SIGKILL");
      await parent;
    }
    await callTool(lead(), "team_delete", { team_name: "lambda" });
  });

  it("force-killing the last teammate leaves only the lead's pane", async () => {
    await callTool(lead(), "force_kill_teammate", { team_name: "alpha", agent_name: "alice" });
    expect(await panesOf()).toEqual([server.lead]);
  });
});

describe("headless teammates (real, private tmux socket)", () => {
  const team = `hl;'$(touch CANARY)`;
  const session = headlessSessionName(team);
  const hl = () => lead({ CLANKER_TEAMS_TMUX_SOCKET: headlessSocket }, false);
  const tmux = (args: string[]) => execa("tmux", ["-S", headlessSocket, ...args], { reject: false });

  it("runs teammates in a detached session named after the team, says how to attach, and team_delete removes it", async () => {
    await callTool(hl(), "team_create", { team_name: team });
    const a = await spawn(hl(), team, { name: "h1" });
    const b = await spawn(hl(), team, { name: "h2" });
    expect(a.r.text).toContain(`tmux -S ${headlessSocket} attach -t ${session}`);
    expect(a.pane).toMatchObject({ kind: "headless", session, socket: headlessSocket });
    expect((await tmux(["has-session", "-t", `=${session}`])).exitCode).toBe(0);
    expect((await tmux(["list-windows", "-t", `=${session}`, "-F", "#{window_name}"])).stdout.split("\n")).toEqual(["h1", "h2"]);
    expect((await report(a.pane.pid)).env).toMatchObject({ CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "h1" });
    await untilIdle(team, "h1");
    expect(await check(team, "h2")).toMatchObject({ paneAlive: true });

    const r = await callTool(hl(), "team_delete", { team_name: team });
    expect(r.details.stopped).toEqual(["h1", "h2"]);
    expect(isPidAlive(a.pane.pid)).toBe(false);
    expect(isPidAlive(b.pane.pid)).toBe(false);
    expect((await tmux(["has-session", "-t", `=${session}`])).exitCode).not.toBe(0);
    expect(fs.existsSync(path.join(dataDir, "teams", team))).toBe(false);
    expect(execFileSync("find", [tmp, "-maxdepth", "3", "-name", "CANARY"], { encoding: "utf8" })).toBe("");
  });
});
