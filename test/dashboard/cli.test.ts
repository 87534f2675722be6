/**
 * `clanker-teams dashboard` as a command (real processes, no browser): bad
 * options and unknown teams are refused with a clear message; it listens on
 * 127.0.0.1 on a free port unless told otherwise, with a fresh token each
 * time; --open hands the address to the system's opener as one argv element;
 * Ctrl-C stops it and frees the port.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeCtx } from "../../src/context.js";
import { createTeam } from "../../src/domain/teams.js";
import { cleanupTemp, cli, tempDir } from "../helpers/fixtures.js";
import { startDashboardProc } from "./harness.js";

afterAll(cleanupTemp);

/** Waits until `read()` matches `re` (stderr and files arrive on their own schedule). */
async function eventually(read: () => string, re: RegExp, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(read()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(read()).toMatch(re);
}

async function dataDirWithTeam(team: string): Promise<string> {
  const dir = tempDir("clanker-dash-cli-");
  const ctx = makeCtx({ dataDir: dir, actor: "team-lead" });
  await createTeam(ctx, { team_name: team });
  await ctx.store.close();
  return dir;
}

describe("clanker-teams dashboard (the command)", () => {
  it("refuses bad options and unknown teams, naming the option and the fix", async () => {
    const dir = await dataDirWithTeam("alpha");
    const bad = async (args: string[], re: RegExp) => {
      const r = await cli(["dashboard", ...args], { dir, timeout: 20_000 });
      expect(r.exitCode, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(re);
    };
    await bad(["--port", "http"], /--port: must be a port number 1-65535, got "http"; leave it out for a free port/);
    await bad(["--port", "70000"], /--port: must be a port number/);
    await bad(["--host", "a b"], /--host: must be an interface address/);
    await bad(["betaa"], /team "betaa" does not exist; teams: alpha/);
    await bad(["alpha", "extra"], /dashboard takes at most one team name/);
    await bad(["--prot", "80"], /unknown option --prot for dashboard; did you mean --port\?/);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try { await bad(["--port", String(busy)], new RegExp(`--port ${busy}: the port is in use`)); } finally { blocker.close(); }
    const help = await cli(["dashboard", "--help"], { dir });
    expect(help.stdout).toMatch(/^Usage: clanker-teams dashboard \[team\] \[--port N\] \[--open\] \[--host H\]/);
    expect((await cli(["--help"], { dir })).stdout).toMatch(/clanker-teams dashboard \[team\]/);
  });

  it("listens on 127.0.0.1 on a free port with a new token each run; Ctrl-C stops it and frees the port", async () => {
    const dir = await dataDirWithTeam("alpha");
    const env = { CLANKER_TEAMS_DIR: dir };
    const a = await startDashboardProc(env, ["alpha"]);
    const b = await startDashboardProc(env, []);
    const [ua, ub] = [new URL(a.url), new URL(b.url)];
    expect(ua.hostname).toBe("127.0.0.1");
    expect(ua.port).not.toBe(ub.port);
    expect(ua.searchParams.get("token")).not.toBe(ub.searchParams.get("token"));
    expect(ub.searchParams.has("team")).toBe(false);
    await eventually(a.stderr, /Dashboard of team alpha in .*, acting as team-lead\. Ctrl-C to stop\./);
    expect(await b.stop()).toBe(0);
    expect(await a.stop()).toBe(0);
    // A fixed port; after Ctrl-C (exit 0) the port is free again at once.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const fixed = await startDashboardProc(env, ["--port", String(port)]);
    expect(new URL(fixed.url).port).toBe(String(port));
    expect(await fixed.stop()).toBe(0);
    const reuse = net.createServer();
    await new Promise<void>((resolve, reject) => { reuse.once("error", reject); reuse.listen(port, "127.0.0.1", () => resolve()); });
    await new Promise((r) => reuse.close(r));
  });

  it("--host 0.0.0.0 warns that the network can reach it; --open gives the address to the opener as one argument", async () => {
    const dir = await dataDirWithTeam("alpha");
    const bin = tempDir("clanker-dash-bin-");
    const log = path.join(bin, "opened.txt");
    const opener = process.platform === "darwin" ? "open" : "xdg-open";
    fs.writeFileSync(path.join(bin, opener), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\n`, { mode: 0o755 });
    const d = await startDashboardProc({ CLANKER_TEAMS_DIR: dir, PATH: `${bin}:${process.env.PATH}` }, ["alpha", "--host", "0.0.0.0", "--open"]);
    try {
      expect(new URL(d.url).hostname).toBe("127.0.0.1");
      await eventually(d.stderr, /Listening on 0\.0\.0\.0: anyone who can reach this port and has the address can act as team-lead\./);
      await eventually(() => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""), /\n$/);
      expect(fs.readFileSync(log, "utf8")).toBe(`${d.url}\n`);
      // Any Host header is accepted off loopback (the token guards), but not without the token.
      expect((await fetch(`${d.origin}/api/teams`)).status).toBe(401);
    } finally {
      await d.stop();
    }
  });
});
