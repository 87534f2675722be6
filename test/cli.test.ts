import { afterAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { CLI, cleanupTemp, cli, teamWith, tempDir, until, world } from "./helpers/fixtures.js";
import { callTool } from "../src/tools/table.js";
import { readInbox } from "../src/domain/messages.js";
import { getTask } from "../src/domain/tasks.js";
import { writePresence } from "../src/domain/presence.js";

afterAll(cleanupTemp);

describe("clanker-teams call", () => {
  it("prints the JSON result", async () => {
    const w = world();
    const r = await cli(["call", "team_create", '{"team_name":"t","description":"cli team"}'], { dir: w.dir });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, details: { team: { name: "t", description: "cli team" } } });
    expect(out.text).toMatch(/Team "t" created/);
    const l = await cli(["call", "task_create", "-"], { dir: w.dir, input: '{"team_name":"t","subject":"from stdin","description":""}' });
    expect(JSON.parse(l.stdout).details.task).toMatchObject({ id: "1", subject: "from stdin" });
  });

  it("bad JSON, bad input, unknown tool: a clear message on stderr and exit 1", async () => {
    const w = world();
    await teamWith(w, "t");
    const cases: [string[], RegExp][] = [
      [["call", "task_list", "{team_name: t}"], /arguments are not valid JSON/],
      [["call", "task_update", '{"team_name":"t","task_id":"1","status":"done"}'], /status: must be one of pending/],
      [["call", "task_get", '{"team_name":"t","task_id":"9"}'], /task_id: task "9" does not exist/],
      [["call", "task_list", '{"team_name":"../x"}'], /team_name: must not contain '\/'/],
      [["call", "nope", "{}"], /unknown tool "nope"/],
      [["call"], /call needs a tool name/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["call", "task_list", '{"team_name":"t"}', "--as"], /--as needs a value/],
    ];
    const rs = await Promise.all(cases.map(([args]) => cli(args, { dir: w.dir })));
    rs.forEach((r, i) => {
      expect([cases[i][0].join(" "), r.exitCode, r.exitCode === 1 ? "" : r.stderr]).toEqual([cases[i][0].join(" "), 1, ""]);
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stdout.includes('"ok": true')).toBe(false);
    });
  });

  it("--as NAME (and CLANKER_AGENT_NAME) sets the caller; a non-member cannot pretend", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const [a, b, c] = await Promise.all([
      cli(["call", "send_message", '{"team_name":"t","recipient":"team-lead","content":"via --as","summary":"s"}', "--as", "dev"], { dir: w.dir }),
      cli(["call", "send_message", '{"team_name":"t","recipient":"team-lead","content":"via env","summary":"s"}'], { dir: w.dir, env: { CLANKER_AGENT_NAME: "dev" } }),
      cli(["call", "send_message", '{"team_name":"t","recipient":"team-lead","content":"x","summary":"s"}', "--as=mallory"], { dir: w.dir }),
    ]);
    expect([a.exitCode, b.exitCode, c.exitCode]).toEqual([0, 0, 1]);
    expect(c.stderr).toMatch(/"mallory" is not a member/);
    const msgs = (await readInbox(w.as(), "t")).messages;
    expect(msgs.map((m) => [m.from, m.content]).sort()).toEqual([["dev", "via --as"], ["dev", "via env"]]);
  });

  it("completing through the CLI runs the repo's hook from the current directory", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await callTool(w.as(), "task_create", { team_name: "t", subject: "A", description: "", owner: "dev" });
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const repo = tempDir("clanker-repo-");
    mkdirSync(repo + "/.clanker/team-hooks", { recursive: true });
    writeFileSync(repo + "/.clanker/team-hooks/task_completed.sh", "#!/bin/sh\necho nope; exit 2\n", { mode: 0o755 });
    const r = await cli(["call", "task_update", '{"team_name":"t","task_id":"1","status":"completed"}', "--as", "dev"], { dir: w.dir, cwd: repo });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).details).toMatchObject({ vetoed: true });
    expect(await getTask(w.as(), "t", "1")).toMatchObject({ status: "in_progress", hookFeedback: expect.stringContaining("nope") });
  });
});

describe("clanker-teams tools / status", () => {
  it("tools lists every tool with its parameters; --json gives the schemas", async () => {
    const w = world();
    const [text, json] = await Promise.all([cli(["tools"], { dir: w.dir }), cli(["tools", "--json"], { dir: w.dir })]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("task_update(team_name, task_id, status?, owner?, subject?, description?, active_form?, add_blocked_by?, remove_blocked_by?)");
    const list = JSON.parse(json.stdout) as { name: string; parameters: { properties: object } }[];
    expect(list.find((t) => t.name === "send_message")?.parameters.properties).toHaveProperty("summary");
  });

  it("status shows members, tasks by status and unread counts; --json as data", async () => {
    const w = world();
    await teamWith(w, "t", ["dev", "qa"]);
    await callTool(w.as(), "task_create", { team_name: "t", subject: "Build it", description: "", owner: "dev" });
    await callTool(w.as(), "task_create", { team_name: "t", subject: "Test it", description: "" });
    await callTool(w.as("dev"), "task_update", { team_name: "t", task_id: "1", status: "in_progress" });
    await callTool(w.as(), "send_message", { team_name: "t", recipient: "qa", content: "hi", summary: "hi" });
    const [text, json, all, none] = await Promise.all([
      cli(["status", "t"], { dir: w.dir }), cli(["status", "t", "--json"], { dir: w.dir }), cli(["status"], { dir: w.dir }), cli(["status", "ghost"], { dir: w.dir }),
    ]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^Team t — test team/);
    expect(text.stdout).toMatch(/dev\s+teammate\s+unknown\s+1\s+#1/); // the assignment message is unread
    expect(text.stdout).toMatch(/qa\s+teammate\s+unknown\s+1\s+-/);
    expect(text.stdout).toMatch(/#1\s+in_progress\s+dev\s+Build it/);
    expect(text.stdout).toMatch(/#2\s+pending\s+-\s+Test it/);
    expect(text.stdout).toContain("pending 1, planning 0, in_progress 1, completed 0");
    const d = JSON.parse(json.stdout);
    expect(d.team).toBe("t");
    expect(d.members.map((m: { name: string; unread: number }) => [m.name, m.unread])).toEqual([["team-lead", 0], ["dev", 1], ["qa", 1]]);
    expect(d.tasks.in_progress.map((t: { id: string }) => t.id)).toEqual(["1"]);
    expect(d.tasks.pending.map((t: { id: string }) => t.id)).toEqual(["2"]);
    expect(all.stdout).toContain("Team t");
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(/team "ghost" does not exist; teams: t/);
    const empty = await cli(["status"], { dir: world().dir });
    expect(empty.stdout).toMatch(/No teams in/);
  });
});

describe("status: blockers", () => {
  it("shows only unfinished blockers: a completed one no longer blocks", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const lead = w.as();
    await callTool(lead, "task_create", { team_name: "t", subject: "A", description: "" });
    await callTool(lead, "task_create", { team_name: "t", subject: "B", description: "", blocked_by: ["1"] });
    await callTool(lead, "task_create", { team_name: "t", subject: "C", description: "", blocked_by: ["1", "2"] });
    const before = await cli(["status", "t"], { dir: w.dir });
    expect(before.stdout).toMatch(/#2\s+pending\s+-\s+B \(blocked by #1\)$/m);
    expect(before.stdout).toMatch(/#3\s+pending\s+-\s+C \(blocked by #1, #2\)$/m);
    await callTool(lead, "task_update", { team_name: "t", task_id: "1", status: "completed" });
    const after = await cli(["status", "t"], { dir: w.dir });
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toMatch(/#2\s+pending\s+-\s+B$/m);
    expect(after.stdout).toMatch(/#3\s+pending\s+-\s+C \(blocked by #2\)$/m);
    expect(after.stdout).toMatch(/#1\s+completed\s+-\s+A$/m);
    const { renderBoard } = await import("../src/demo/run.js");
    await teamWith(w, "demo");
    await callTool(lead, "task_create", { team_name: "demo", subject: "A", description: "" });
    await callTool(lead, "task_create", { team_name: "demo", subject: "B", description: "", blocked_by: ["1"] });
    await callTool(lead, "task_create", { team_name: "demo", subject: "C", description: "", blocked_by: ["1", "2"] });
    await callTool(lead, "task_update", { team_name: "demo", task_id: "1", status: "completed" });
    const board = (await renderBoard(lead, [], new Set(), Date.now())).split("\n");
    expect(board).toContain("#2    pending    -      B");
    expect(board).toContain("#3    pending    -      C (blocked by #2)");
  });
});

describe("flags, commands, --version", () => {
  it("refuses unknown options and commands with a suggestion, on stderr, exit 1", async () => {
    const w = world();
    await teamWith(w, "t");
    const cases: [string[], RegExp][] = [
      [["stauts"], /unknown command "stauts"; did you mean "status"\?/],
      [["wacth", "t"], /unknown command "wacth"; did you mean "watch"\?/],
      [["zzzzzz"], /unknown command "zzzzzz"; commands: call, tools, status, watch, dashboard, send\b.* \(clanker-teams --help\)$/m],
      [["status", "--jsn"], /unknown option --jsn for status; did you mean --json\?/],
      [["watch", "t", "--form", "3"], /unknown option --form for watch; did you mean --from\?/],
      [["call", "task_list", '{"team_name":"t"}', "--ass", "dev"], /unknown option --ass for call; did you mean --as\?/],
      [["tools", "--from", "3"], /unknown option --from for tools; it takes --json, --as, --db/],
      [["status", "--json=yes"], /--json takes no value/],
      [["status", "-j"], /unknown option "-j"/],
      [["status", "t", "extra"], /status takes at most one team name; got 2: "t" "extra"/],
      [["tools", "x"], /tools takes no arguments/],
      [["watch", "t", "--from", "abc"], /--from: must be an event number \(0 or more\), got "abc"/],
    ];
    const rs = await Promise.all(cases.map(([args]) => cli(args, { dir: w.dir })));
    rs.forEach((r, i) => {
      expect([cases[i][0].join(" "), r.exitCode, r.stdout]).toEqual([cases[i][0].join(" "), 1, ""]);
      expect(r.stderr).toMatch(cases[i][1]);
    });
  });

  it("--version and -V print the version from package.json", async () => {
    const { readFileSync } = await import("node:fs");
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    const rs = await Promise.all([cli(["--version"], { dir: world().dir }), cli(["-V"], { dir: world().dir }), cli(["status", "--version"], { dir: world().dir })]);
    for (const r of rs) expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, version, ""]);
  });
});

describe("clanker-teams watch", () => {
  it("follows the event log live until killed", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const child = execa(process.execPath, [CLI, "watch", "t"], { env: { ...process.env, CLANKER_TEAMS_DIR: w.dir, NO_COLOR: "1" }, reject: false });
    let out = "";
    let err = "";
    child.stdout!.on("data", (b) => (out += b));
    child.stderr!.on("data", (b) => (err += b));
    await until(() => err.includes("Following"), 10_000);
    await until(() => /team\.created/.test(out), 5000); // recent history first (stdout may arrive after stderr's banner)
    await callTool(w.as(), "task_create", { team_name: "t", subject: "Watch me", description: "" });
    await until(() => out.includes("task #1 created: Watch me"), 5000);
    await callTool(w.as(), "send_message", { team_name: "t", recipient: "dev", content: "x", summary: "ping dev" });
    await until(() => out.includes("team-lead → dev: ping dev"), 5000);
    const lines = out.trim().split("\n");
    const seqs = lines.map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    child.kill("SIGTERM");
    const r = await child;
    expect(r.exitCode).toBe(0);
  });

  it("--json --from 0 replays the whole log as JSON lines", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const child = execa(process.execPath, [CLI, "watch", "t", "--json", "--from", "0"], { env: { ...process.env, CLANKER_TEAMS_DIR: w.dir }, reject: false });
    let out = "";
    child.stdout!.on("data", (b) => (out += b));
    await until(() => out.split("\n").length >= 3, 10_000);
    child.kill("SIGTERM");
    await child;
    expect(out.trim().split("\n").map((l) => JSON.parse(l).kind)).toEqual(["team.created", "member.added"]);
  });

  it("watch of an unknown team fails at once", async () => {
    const r = await cli(["watch", "ghost"], { dir: world().dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/team "ghost" does not exist/);
  });
});

describe("--help", () => {
  it("every command has --help and exits 0", async () => {
    const w = world();
    const cmds = [[], ["call"], ["tools"], ["status"], ["watch"], ["demo"]];
    const rs = await Promise.all([...cmds.map((c) => cli([...c, "--help"], { dir: w.dir })), cli(["help"], { dir: w.dir }), cli(["-h"], { dir: w.dir })]);
    for (const r of rs) {
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^(Usage|clanker-teams)/);
    }
    expect(rs[1].stdout).toMatch(/Usage: clanker-teams call <tool>/);
    expect(rs[4].stdout).toMatch(/Usage: clanker-teams watch <team>/);
    const [help, main] = await Promise.all([cli(["help", "status"], { dir: w.dir }), cli(["--help"], { dir: w.dir })]);
    expect(help.stdout).toMatch(/^Usage: clanker-teams status \[team\] \[--json\]/);
    expect(main.stdout).toContain("clanker-teams --version");
    // Every option a command takes is in its help.
    for (const [cmd, opts] of Object.entries({ call: ["--as"], tools: ["--json"], status: ["--json"], watch: ["--from", "--json"], demo: ["--keep", "--pi"] })) {
      const h = await cli([cmd, "--help"], { dir: w.dir });
      for (const o of opts) expect([cmd, h.stdout.includes(o)]).toEqual([cmd, true]);
    }
  });
});

describe("which host an agent runs on", () => {
  /** dev's and qa's extensions report from their own hosts (CLANKER_TEAMS_HOST names a host). */
  async function twoHosts(w: ReturnType<typeof world>, hosts: [string, string]): Promise<void> {
    await teamWith(w, "t", ["dev", "qa"]);
    // The real clock: the CLI judges heartbeats by it.
    await writePresence(w.as("dev", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: hosts[0] } }), "t", "dev", { state: "idle", pid: 424242 });
    await writePresence(w.as("qa", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: hosts[1] } }), "t", "qa", { state: "busy", pid: 424243 });
  }

  it("check_teammate names the host of an agent on another host, and always gives it in details", async () => {
    const w = world();
    await twoHosts(w, ["laptop-7", "ci-runner"]);
    const lead = w.as("team-lead", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: "cloud-box" } });
    const dev = await callTool(lead, "check_teammate", { team_name: "t", agent_name: "dev" });
    expect(dev.details).toMatchObject({ running: true, state: "idle", host: "laptop-7", processAlive: null });
    expect(dev.text).toMatch(/^dev: running, idle \(heartbeat on laptop-7 \d+ s ago\); 0 unread\.$/);
    // On the lead's own host the pid is checked too; the host is still in details.
    const local = w.as("team-lead", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: "ci-runner" } });
    await writePresence(w.as("qa", { now: Date.now, env: { ...w.env, CLANKER_TEAMS_HOST: "ci-runner" } }), "t", "qa", { pid: process.pid });
    expect((await callTool(local, "check_teammate", { team_name: "t", agent_name: "qa" })).details).toMatchObject({ running: true, host: "ci-runner", processAlive: true });
  });

  it("status shows a HOST column when members run on more than one host (and host in --json)", async () => {
    const w = world();
    await twoHosts(w, ["laptop-7", "ci-runner"]);
    const env = { CLANKER_TEAMS_HOST: "cloud-box" };
    const [text, json] = await Promise.all([cli(["status", "t"], { dir: w.dir, env }), cli(["status", "t", "--json"], { dir: w.dir, env })]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/MEMBER\s+ROLE\s+STATE\s+UNREAD\s+TASK\s+MODEL\s+HOST/);
    expect(text.stdout).toMatch(/^dev\s+teammate\s+idle\s+0\s+-\s+-\s+laptop-7$/m);
    expect(text.stdout).toMatch(/^qa\s+teammate\s+busy\s+0\s+-\s+-\s+ci-runner$/m);
    expect(JSON.parse(json.stdout).members.map((m: { name: string; host: string | null }) => [m.name, m.host])).toEqual([["team-lead", null], ["dev", "laptop-7"], ["qa", "ci-runner"]]);
    // One host: no column.
    const one = world();
    await twoHosts(one, ["same-box", "same-box"]);
    const single = await cli(["status", "t"], { dir: one.dir, env: { CLANKER_TEAMS_HOST: "same-box" } });
    expect(single.stdout).not.toMatch(/HOST/);
  });
});
