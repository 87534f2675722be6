// REAL processes (the built CLI): `init` writes/updates/removes its AGENTS.md (and CLAUDE.md) section
// idempotently and prints or writes each agent's MCP registration; `hook claude|gemini stop|prompt`
// hands unread mail over the way each host's hook API takes it, marking exactly that mail read.
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { makeCtx } from "../../dist/src/context.js";
import { addMember, createTeam } from "../../dist/src/domain/teams.js";
import { sendMessage, unreadPeek } from "../../dist/src/domain/messages.js";
import { readPresence, writePresence } from "../../dist/src/domain/presence.js";
import { cleanupTemp, cli, tempDir } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

async function repo(): Promise<string> {
  const d = tempDir("init-repo-");
  await execa("git", ["init", "-q", d]);
  fs.mkdirSync(path.join(d, "sub"));
  return d;
}

describe("clanker-teams init", () => {
  it("adds the section once (from a subdirectory, at the repo root), keeps the rest, updates CLAUDE.md only if present, and --remove restores the files", async () => {
    const d = await repo();
    const agents = "# Agents\n\nRun npm test before committing.\n";
    fs.writeFileSync(path.join(d, "AGENTS.md"), agents);
    fs.writeFileSync(path.join(d, "CLAUDE.md"), "Use tabs.");
    const sub = path.join(d, "sub");
    const r1 = await cli(["init"], { dir: tempDir(), cwd: sub });
    expect(r1.exitCode, r1.stderr).toBe(0);
    expect(r1.stdout).toBe("AGENTS.md: section added\nCLAUDE.md: section added");
    const a1 = fs.readFileSync(path.join(d, "AGENTS.md"), "utf8");
    expect(a1.startsWith(agents)).toBe(true);
    expect(a1).toContain("`clanker-teams status --as NAME`");
    expect(a1).toContain("clanker-teams init\n  --agent claude");
    expect(a1.match(/clanker-teams:begin/g)).toHaveLength(1);
    const r2 = await cli(["init"], { dir: tempDir(), cwd: d });
    expect(r2.stdout).toBe("AGENTS.md: already has the section\nCLAUDE.md: already has the section");
    expect(fs.readFileSync(path.join(d, "AGENTS.md"), "utf8")).toBe(a1);
    expect(fs.existsSync(path.join(sub, "AGENTS.md"))).toBe(false);
    // an old section is replaced in place
    fs.writeFileSync(path.join(d, "AGENTS.md"), a1.replace("Several coding agents", "OLD TEXT") + "\nafter\n");
    await cli(["init"], { dir: tempDir(), cwd: d });
    const a3 = fs.readFileSync(path.join(d, "AGENTS.md"), "utf8");
    expect(a3).not.toContain("OLD TEXT");
    expect(a3.endsWith("\nafter\n")).toBe(true);
    const rm = await cli(["init", "--remove"], { dir: tempDir(), cwd: d });
    expect(rm.stdout).toBe("AGENTS.md: section removed\nCLAUDE.md: section removed");
    expect(fs.readFileSync(path.join(d, "AGENTS.md"), "utf8")).toBe(agents + "\nafter\n");
    expect(fs.readFileSync(path.join(d, "CLAUDE.md"), "utf8")).toBe("Use tabs.\n");
  });

  it("creates AGENTS.md when missing and deletes it again when only the section is left; never creates CLAUDE.md", async () => {
    const d = await repo();
    expect((await cli(["init"], { dir: tempDir(), cwd: d })).stdout).toBe("AGENTS.md: section added");
    expect(fs.existsSync(path.join(d, "CLAUDE.md"))).toBe(false);
    expect((await cli(["init", "--remove"], { dir: tempDir(), cwd: d })).stdout).toBe("AGENTS.md: removed (it held only the section)");
    expect(fs.existsSync(path.join(d, "AGENTS.md"))).toBe(false);
  });

  it("--agent prints each agent's registration line; --write merges it into the repo's config, keeping other servers", async () => {
    const d = await repo();
    const env = { PATH: "/usr/bin:/bin" }; // clanker-teams not on PATH: the line names this node and this package
    const line = async (a: string, extra: string[] = []) => (await cli(["init", "--agent", a, ...extra], { dir: tempDir(), cwd: d, env })).stdout.trim();
    expect(await line("claude", ["--team", "shop", "--as", "bob"])).toMatch(/^claude mcp add clanker-teams -e 'CLANKER_TEAM_NAME=shop' -e 'CLANKER_AGENT_NAME=bob' -- \S+node\S* \S+bin\/clanker-teams\.js mcp$/);
    expect(await line("codex")).toMatch(/^codex mcp add clanker-teams -- \S+ \S+clanker-teams\.js mcp$/);
    expect(await line("gemini")).toMatch(/^gemini mcp add clanker-teams \S+ \S+clanker-teams\.js mcp$/);
    expect(JSON.parse((await line("opencode")).replace(/^opencode\.json: /, ""))).toMatchObject({ mcp: { "clanker-teams": { type: "local", enabled: true } } });
    const bad = await cli(["init", "--agent", "cursor"], { dir: tempDir(), cwd: d });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('--agent: must be one of claude, codex, gemini, opencode (got "cursor")');

    fs.writeFileSync(path.join(d, ".mcp.json"), JSON.stringify({ mcpServers: { other: { command: "x" } } }));
    for (const a of ["claude", "codex", "gemini", "opencode"]) {
      const r = await cli(["init", "--agent", a, "--write"], { dir: tempDir(), cwd: d, env });
      expect(r.exitCode, r.stderr).toBe(0);
      await cli(["init", "--agent", a, "--write"], { dir: tempDir(), cwd: d, env }); // twice: still one entry
    }
    const mcpJson = JSON.parse(fs.readFileSync(path.join(d, ".mcp.json"), "utf8"));
    expect(Object.keys(mcpJson.mcpServers)).toEqual(["other", "clanker-teams"]);
    expect(mcpJson.mcpServers["clanker-teams"]).toMatchObject({ type: "stdio", args: [expect.stringMatching(/clanker-teams\.js$/), "mcp"] });
    const toml = fs.readFileSync(path.join(d, ".codex", "config.toml"), "utf8");
    expect(toml.match(/\[mcp_servers\.clanker-teams\]/g)).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(d, ".gemini", "settings.json"), "utf8")).mcpServers["clanker-teams"].args[1]).toBe("mcp");
    expect(JSON.parse(fs.readFileSync(path.join(d, "opencode.json"), "utf8")).mcp["clanker-teams"].command.at(-1)).toBe("mcp");
    fs.writeFileSync(path.join(d, "opencode.json"), "{ not json");
    const broken = await cli(["init", "--agent", "opencode", "--write"], { dir: tempDir(), cwd: d, env });
    expect(broken.stderr).toContain("opencode.json: is not valid JSON; fix it (or move it aside) and run init again");
    expect(fs.readFileSync(path.join(d, "opencode.json"), "utf8")).toBe("{ not json");
  });
});

describe("clanker-teams hook", () => {
  async function setup() {
    const dir = tempDir("hook-");
    const lead = makeCtx({ dataDir: dir, env: { ...process.env, CLANKER_TEAMS_DIR: dir } });
    await createTeam(lead, { team_name: "hk" });
    await addMember(lead, "hk", { name: "bob", role: "teammate" });
    const bob = makeCtx({ dataDir: dir, actor: "bob", env: { ...process.env, CLANKER_TEAMS_DIR: dir } });
    await writePresence(bob, "hk", "bob", { state: "busy", startedAt: new Date().toISOString() });
    return { dir, lead, bob };
  }
  const run = (dir: string, host: string, event: string, env: Record<string, string> = { CLANKER_TEAM_NAME: "hk", CLANKER_AGENT_NAME: "bob" }) =>
    cli(["hook", host, event], { dir, input: JSON.stringify({ hook_event_name: "Stop", stop_hook_active: false }), env });

  it("claude stop: no mail → exit 0, state idle; mail → exit 2 with the mail on stderr, marked read (once)", async () => {
    const { dir, lead, bob } = await setup();
    const quiet = await run(dir, "claude", "stop");
    expect([quiet.exitCode, quiet.stdout, quiet.stderr]).toEqual([0, "", ""]);
    expect((await readPresence(bob, "hk", "bob"))!.state).toBe("idle");
    await sendMessage(lead, "hk", { recipient: "bob", summary: "next", content: "DO-THE-NEXT-THING\x1b[31m" });
    await sendMessage(lead, "hk", { recipient: "bob", summary: "Shutdown approved", content: "exit", kind: "shutdown_request" });
    const r = await run(dir, "claude", "stop");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('[clanker-teams] new mail in team "hk". 1 message(s) (marked read):');
    expect(r.stderr).toContain("DO-THE-NEXT-THING\\x1b[31m"); // escaped for Claude's terminal UI
    expect((await readPresence(bob, "hk", "bob"))!.state).toBe("busy");
    // the shutdown request is left for the MCP server
    expect((await unreadPeek(bob, "hk", "bob")).map((m) => m.kind)).toEqual(["shutdown_request"]);
    expect((await run(dir, "claude", "stop")).exitCode).toBe(0);
  });

  it("claude prompt prints mail as context (exit 0); gemini stop blocks with the mail as reason, gemini prompt adds it as additionalContext", async () => {
    const { dir, lead } = await setup();
    await sendMessage(lead, "hk", { recipient: "bob", summary: "a", content: "MAIL-A" });
    const p = await run(dir, "claude", "prompt");
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toContain("MAIL-A");
    await sendMessage(lead, "hk", { recipient: "bob", summary: "b", content: "MAIL-B" });
    const g = await run(dir, "gemini", "stop");
    expect(g.exitCode).toBe(0);
    expect(JSON.parse(g.stdout)).toEqual({ decision: "block", reason: expect.stringContaining("MAIL-B") });
    await sendMessage(lead, "hk", { recipient: "bob", summary: "c", content: "MAIL-C" });
    const gp = await run(dir, "gemini", "prompt");
    expect(JSON.parse(gp.stdout)).toEqual({ hookSpecificOutput: { hookEventName: "BeforeAgent", additionalContext: expect.stringContaining("MAIL-C") } });
    expect((await run(dir, "gemini", "stop")).stdout).toBe("");
  });

  it("does nothing outside a team, and refuses an unknown host or event", async () => {
    const dir = tempDir("hook-none-");
    const r = await cli(["hook", "claude", "stop"], { dir, input: "{}", env: { CLANKER_TEAM_NAME: "" } });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, "", ""]);
    const bad = await cli(["hook", "cursor", "stop"], { dir, input: "{}" });
    expect(bad.stderr).toContain('hook: the host must be one of claude, gemini (got "cursor")');
  });
});
