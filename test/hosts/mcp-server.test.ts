// REAL processes: `clanker-teams mcp` (the built CLI) driven by the MCP SDK's own Client over stdio.
// Tools per role are the table's, byte for byte; every tool's documented examples succeed through it, in
// order, as one session; every tool's bad input comes back as a tool error with parseArgs' own text;
// wait_for_mail is woken by a send from another process within a second; two servers racing on claims
// never give a task two owners; presence, the lead's sweep and an approved shutdown work from the server.
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { tools, toolsFor } from "../../dist/src/tools/table.js";
import { jsonSchema, parseArgs } from "../../dist/src/tools/define.js";
import { makeCtx } from "../../dist/src/context.js";
import { addMember, createTeam } from "../../dist/src/domain/teams.js";
import { createTask, getTask, listTasks, claimTask } from "../../dist/src/domain/tasks.js";
import { readEvents } from "../../dist/src/domain/events.js";
import { sendMessage } from "../../dist/src/domain/messages.js";
import { writePresence, readPresence } from "../../dist/src/domain/presence.js";
import { ROOT, cleanupTemp, cli, tempDir, until } from "../helpers/fixtures.js";
import { extractExamples } from "../helpers/doc-examples.js";
import { connectMcp, type Mcp } from "./mcp-client.js";

const open: Mcp[] = [];
const sockets: string[] = [];
afterAll(async () => {
  for (const m of open) await m.close().catch(() => undefined);
  for (const s of sockets) await execa("tmux", ["-S", s, "kill-server"], { reject: false });
  cleanupTemp();
});

async function mcp(dir: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string): Promise<Mcp> {
  const m = await connectMcp(dir, args, env, cwd);
  open.push(m);
  return m;
}

const ctxOf = (dir: string, actor = "team-lead") => makeCtx({ dataDir: dir, actor, env: { ...process.env, CLANKER_TEAMS_DIR: dir } });

async function team(dir: string, name: string, mates: string[]): Promise<void> {
  const lead = ctxOf(dir);
  await createTeam(lead, { team_name: name });
  for (const m of mates) await addMember(lead, name, { name: m, role: "teammate" });
}

describe("tools per role", () => {
  it("the lead's and a teammate's servers list exactly the table's tools for that role and host: same names, descriptions, schemas", async () => {
    const dir = tempDir("mcp-roles-");
    await team(dir, "roles", ["bob"]);
    const lead = await mcp(dir);
    const mate = await mcp(dir, ["--team", "roles", "--as", "bob"]);
    for (const [m, role] of [[lead, "lead"], [mate, "teammate"]] as const) {
      const listed = (await m.client.listTools()).tools;
      const want = toolsFor(role, "mcp");
      expect(listed.map((t) => t.name)).toEqual(want.map((t) => t.name));
      for (const t of want) {
        const got = listed.find((x) => x.name === t.name)!;
        expect(got.description).toBe(t.description);
        expect(got.inputSchema).toEqual(jsonSchema(t));
      }
    }
    // The same surface on every host, wait_for_mail included.
    expect(toolsFor("lead", "mcp").map((t) => t.name)).toEqual(toolsFor("lead").map((t) => t.name));
    expect(toolsFor("lead").map((t) => t.name)).toContain("wait_for_mail");
    expect((await mate.client.listTools()).tools.map((t) => t.name)).not.toContain("spawn_teammate");
    const r = await mate.call("spawn_teammate", { team_name: "roles", name: "x", prompt: "p", cwd: "." });
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toMatch(/^unknown tool "spawn_teammate"; tools for a teammate: /);
  });

  it("the instructions carry the role prompt from templates/ and how mail reaches an MCP host", async () => {
    const dir = tempDir("mcp-instr-");
    await team(dir, "instr", ["bob", "carol"]);
    const mate = await mcp(dir, [], { CLANKER_TEAM_NAME: "instr", CLANKER_AGENT_NAME: "bob" });
    const text = mate.client.getInstructions()!;
    expect(text).toContain('# You are bob, a teammate in team "instr"');
    expect(text).toContain("Your teammates: carol.");
    expect(text).toContain('call `wait_for_mail` with team_name\n"instr"');
    const lead = await mcp(dir, ["--team", "instr"]);
    expect(lead.client.getInstructions()).toContain('# clanker-teams: you lead team(s) "instr"');
  });

  it("a teammate without a team is refused at start with a clear error", async () => {
    const r = await cli(["mcp", "--as", "bob"], { dir: tempDir("mcp-noteam-"), input: "" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('--team: teammate "bob" needs its team: pass --team TEAM or set CLANKER_TEAM_NAME');
  });
});

describe("every tool through MCP", () => {
  it("runs every documented example of docs/reference.md in order as one session (the lead's server; spawn_teammate in headless tmux)", async () => {
    const dir = tempDir("mcp-ref-");
    const socket = path.join(tempDir("mcp-ref-tmux-"), "tmux.sock");
    sockets.push(socket);
    // The lead works in a repository of its own (isolation "worktree" branches from it), never in this checkout.
    const work = tempDir("mcp-ref-work-");
    fs.mkdirSync(path.join(work, "web"));
    fs.writeFileSync(path.join(work, "web", "README.md"), "shop\n");
    const gitId = { GIT_AUTHOR_NAME: "mcp", GIT_AUTHOR_EMAIL: "mcp@example.invalid", GIT_COMMITTER_NAME: "mcp", GIT_COMMITTER_EMAIL: "mcp@example.invalid" };
    for (const a of [["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "start"]]) await execa("git", a, { cwd: work, env: gitId });
    const lead = await mcp(dir, [], {
      CLANKER_TEAMS_TERMINAL: "headless", CLANKER_TEAMS_TMUX_SOCKET: socket,
      CLANKER_TEAMS_AGENT_CMD: JSON.stringify([process.execPath, path.join(ROOT, "test", "fixtures", "stand-in-agent.mjs")]),
      CLANKER_SHUTDOWN_GRACE_MS: "10000",
    }, work);
    const examples = extractExamples(fs.readFileSync(path.join(ROOT, "docs", "reference.md"), "utf8"), new Set(tools.map((t) => t.name)));
    const seen = new Set<string>();
    for (const ex of examples) {
      const [, name, json] = ex.argv;
      const r = await lead.call(name!, JSON.parse(json!) as Record<string, unknown>);
      expect(r.isError, `${ex.source}\n→ ${r.text}`).toBe(false);
      seen.add(name!);
    }
    expect([...seen].sort()).toEqual(toolsFor("lead", "mcp").map((t) => t.name).sort());
  }, 240_000);

  it("bad input to every tool is a tool error with parseArgs' own text; a domain error keeps the CLI's text", async () => {
    const dir = tempDir("mcp-err-");
    await team(dir, "errs", ["bob"]);
    const lead = await mcp(dir);
    for (const t of toolsFor("lead", "mcp")) {
      for (const bad of [{}, { ...(t.example as object), no_such_arg: 1 }]) {
        let want = "";
        try { parseArgs(t, bad); } catch (e) { want = (e as Error).message; }
        expect(want, t.name).not.toBe("");
        expect(await lead.call(t.name, bad), t.name).toEqual({ isError: true, text: want });
      }
    }
    const viaMcp = await lead.call("task_get", { team_name: "errs", task_id: "42" });
    const viaCli = await cli(["call", "task_get", '{"team_name":"errs","task_id":"42"}'], { dir });
    expect(viaMcp.isError).toBe(true);
    expect(viaCli.stderr.trim()).toBe(`clanker-teams: ${viaMcp.text}`);
  });
});

describe("wait_for_mail", () => {
  it("is woken within a second by a send from another process, returns the text and marks it read; times out empty", async () => {
    const dir = tempDir("mcp-wait-");
    await team(dir, "mail", ["bob"]);
    const bob = await mcp(dir, ["--team", "mail", "--as", "bob"]);
    const t0 = Date.now();
    expect(await bob.call("wait_for_mail", { team_name: "mail", timeout_s: 1 })).toEqual({ isError: false, text: "No mail within 1 s." });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);

    const lat: number[] = [];
    for (let i = 0; i < 3; i++) {
      const waiting = bob.call("wait_for_mail", { team_name: "mail", timeout_s: 30 });
      await new Promise((r) => setTimeout(r, 700)); // the wait is parked on the store's watch
      const sent = await cli(["call", "send_message", JSON.stringify({ team_name: "mail", recipient: "bob", summary: `ping ${i}`, content: `PING-${i} from another process` })], { dir });
      expect(sent.exitCode).toBe(0);
      const acked = Date.now(); // the sender's process has exited: the message is stored
      const sentAt = Date.parse(JSON.parse(sent.stdout).details.message.timestamp);
      const r = await waiting;
      const woke = Date.now();
      expect(r.isError).toBe(false);
      expect(r.text).toContain(`1 message(s) (marked read):`);
      expect(r.text).toContain(`From team-lead at`);
      expect(r.text).toContain(`PING-${i} from another process`);
      lat.push(woke - sentAt);
      expect(woke - acked).toBeLessThan(1000);
    }
    console.log(`wait_for_mail: woken ${lat.join(", ")} ms after the send began in another process (CLI start excluded)`);
    for (const l of lat) expect(l).toBeLessThan(1000);
    // marked read: nothing left
    expect(await bob.call("wait_for_mail", { team_name: "mail", timeout_s: 0 })).toEqual({ isError: false, text: "No mail within 0 s." });
    expect((await readEvents(ctxOf(dir), "mail")).filter((e) => e.kind === "message.read" && e.actor === "bob")).toHaveLength(3);
  }, 60_000);

  it("a cancelled wait takes nothing: the mail stays unread for the next call", async () => {
    const dir = tempDir("mcp-cancel-");
    await team(dir, "cx", ["bob"]);
    const bob = await mcp(dir, ["--team", "cx", "--as", "bob"]);
    const ac = new AbortController();
    const p = bob.client.callTool({ name: "wait_for_mail", arguments: { team_name: "cx", timeout_s: 30 } }, undefined, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 500));
    ac.abort();
    await expect(p).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    await sendMessage(ctxOf(dir), "cx", { recipient: "bob", summary: "later", content: "AFTER-CANCEL" });
    await new Promise((r) => setTimeout(r, 1500));
    const r = await bob.call("wait_for_mail", { team_name: "cx", timeout_s: 5 });
    expect(r.text).toContain("AFTER-CANCEL");
  }, 30_000);
});

describe("two servers for two agents racing on claims", () => {
  it("never give a task two owners; every task is claimed once and completed once", async () => {
    const dir = tempDir("mcp-race-");
    await team(dir, "race", ["alice", "bob"]);
    const lead = ctxOf(dir);
    const N = 24;
    for (let i = 0; i < N; i++) await createTask(lead, "race", { subject: `job ${i}`, description: "d" });
    const agents = await Promise.all(["alice", "bob"].map((n) => mcp(dir, ["--team", "race", "--as", n])));
    const done: Record<string, string[]> = { alice: [], bob: [] };
    await Promise.all(agents.map(async (m, i) => {
      const me = i === 0 ? "alice" : "bob";
      for (;;) {
        const r = await m.call("task_claim", { team_name: "race" });
        expect(r.isError, r.text).toBe(false);
        const id = /Claimed:\n#(\d+)/.exec(r.text)?.[1];
        if (!id) { expect(r.text).toMatch(/^Nothing to claim/m); return; }
        const u = await m.call("task_update", { team_name: "race", task_id: id, status: "completed" });
        expect(u.isError, u.text).toBe(false);
        done[me]!.push(id);
      }
    }));
    const all = [...done.alice!, ...done.bob!];
    expect(all.length).toBe(N);
    expect(new Set(all).size).toBe(N); // 0 double owners
    expect(done.alice!.length).toBeGreaterThan(0);
    expect(done.bob!.length).toBeGreaterThan(0);
    const claimed = (await readEvents(lead, "race")).filter((e) => e.kind === "task.claimed");
    const byTask = new Map<string, Set<string>>();
    for (const e of claimed) byTask.set(String(e.data.id), (byTask.get(String(e.data.id)) ?? new Set()).add(e.actor));
    for (const [id, owners] of byTask) expect(owners.size, `task ${id}`).toBe(1);
    for (const t of await listTasks(lead, "race")) expect(t.owner === "alice" || t.owner === "bob").toBe(true);
  }, 120_000);
});

describe("the server keeps the agent's presence", () => {
  it("a teammate's server records its host's pid, heartbeats, says busy/idle around tool calls, and stopped when the host closes it", async () => {
    const dir = tempDir("mcp-presence-");
    await team(dir, "pres", ["bob"]);
    const bob = await mcp(dir, ["--team", "pres", "--as", "bob"], { CLANKER_TEAMS_HEARTBEAT_MS: "200" });
    const ctx = ctxOf(dir);
    const p1 = await until(async () => (await readPresence(ctx, "pres", "bob"))?.client !== undefined, 10_000).then(() => readPresence(ctx, "pres", "bob"));
    expect(p1).toMatchObject({ agent: "bob", pid: process.pid, client: "vitest-client 1.0.0", state: "idle" });
    const hb = p1!.heartbeatAt;
    await until(async () => (await readPresence(ctx, "pres", "bob"))!.heartbeatAt > hb, 5000);
    const waiting = bob.call("wait_for_mail", { team_name: "pres", timeout_s: 2 });
    await until(async () => (await readPresence(ctx, "pres", "bob"))!.state === "idle", 5000);
    await waiting;
    await until(async () => (await readPresence(ctx, "pres", "bob"))!.state === "busy", 5000);
    // the greeting went to the lead
    const { unreadPeek } = await import("../../dist/src/domain/messages.js");
    expect((await unreadPeek(ctx, "pres", "team-lead")).map((m) => [m.kind, m.content])).toEqual([["teammate_started", `bob is up (vitest-client 1.0.0, pid ${process.pid}, over MCP).`]]);
    await bob.close();
    await until(async () => (await readPresence(ctx, "pres", "bob"))!.state === "stopped", 5000);
  });

  it("the lead's server sweeps: a dead teammate's claimed task goes back to pending", async () => {
    const dir = tempDir("mcp-sweep-");
    await team(dir, "sweep", ["zed"]);
    const ctx = ctxOf(dir);
    await createTask(ctx, "sweep", { subject: "abandoned", description: "d" });
    const zed = ctxOf(dir, "zed");
    await claimTask(zed, "sweep", "1");
    const gone = await execa(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    await writePresence(zed, "sweep", "zed", { pid: Number(gone.stdout), state: "busy", startedAt: new Date().toISOString() });
    expect((await getTask(ctx, "sweep", "1")).status).toBe("in_progress");
    await mcp(dir, ["--team", "sweep"]);
    await until(async () => (await getTask(ctx, "sweep", "1")).status === "pending", 10_000);
    expect((await getTask(ctx, "sweep", "1")).owner).toBeFalsy();
  });

  it("an approved shutdown ends the server, and with --stop-host its host process (SIGTERM), presence stopped", async () => {
    const dir = tempDir("mcp-stop-");
    await team(dir, "stop", ["bob"]);
    // A tiny host: a node process whose MCP client starts the server as its child, like an agent CLI would.
    const host = path.join(dir, "host.mjs");
    fs.writeFileSync(host, `
      import { Client } from ${JSON.stringify(path.join(ROOT, "node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js"))};
      import { StdioClientTransport } from ${JSON.stringify(path.join(ROOT, "node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js"))};
      const t = new StdioClientTransport({ command: process.execPath, args: [${JSON.stringify(path.join(ROOT, "bin", "clanker-teams.js"))}, "mcp", "--team", "stop", "--as", "bob", "--stop-host"], env: process.env });
      const c = new Client({ name: "tiny-host", version: "0" });
      await c.connect(t);
      process.on("SIGTERM", () => { console.log("host got SIGTERM"); process.exit(0); });
      console.log("ready");
      setInterval(() => {}, 1000);`);
    const child = execa(process.execPath, [host], { env: { ...process.env, CLANKER_TEAMS_DIR: dir }, reject: false });
    await new Promise<void>((resolve) => child.stdout!.on("data", (b: Buffer) => { if (b.toString().includes("ready")) resolve(); }));
    const ctx = ctxOf(dir);
    await until(async () => (await readPresence(ctx, "stop", "bob"))?.pid === child.pid, 10_000);
    await sendMessage(ctx, "stop", { recipient: "bob", summary: "Shutdown approved", content: "finish and exit", kind: "shutdown_request" });
    const r = await child;
    expect(r.stdout).toContain("host got SIGTERM");
    expect(await readPresence(ctx, "stop", "bob")).toMatchObject({ state: "stopped", shutdownRequested: true, pid: child.pid });
  });
});
