// REAL tmux: headless mode starts its own tmux server on a private socket name (-L) and kills it afterwards.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { adapterFor, detect } from "../../src/agents/terminals/detect.js";
import { HeadlessAdapter, headlessSessionName } from "../../src/agents/terminals/headless.js";
import { isPidAlive } from "../../src/agents/terminals/process.js";
import { agentArgv, hostileStrings, makeTmp, readReport, waitFor } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const socketName = `ct-headless-${process.pid}-${Date.now()}`;
const tmux = (args: string[]) => execa("tmux", ["-L", socketName, ...args], { reject: false });
const team = "my.team: #1";
const session = headlessSessionName(team);

let socketPath: string | undefined; // learnt from a PaneRef, to remove the socket file afterwards

afterAll(async () => {
  await tmux(["kill-server"]);
  if (socketPath) rmSync(socketPath, { force: true });
});

const spec = (name: string, args: string[] = []) => {
  const out = join(tmp, `${name}.json`);
  return { out, spec: { argv: agentArgv(args), cwd: tmp, env: { AGENT_OUT: out, CT_NAME: name }, title: name } };
};

const hasSession = async () => (await tmux(["has-session", "-t", `=${session}`])).exitCode === 0;

describe("headless adapter (real tmux, detached session)", () => {
  const adapter = detect({ env: {}, platform: "linux", team, socketName, configFile: "/dev/null", graceMs: 500 }) as HeadlessAdapter;

  it("is what detect() picks outside any multiplexer, with a sanitised session name", () => {
    expect(adapter).toBeInstanceOf(HeadlessAdapter);
    expect(session).toMatch(/^clanker-my_team___1-[0-9a-f]{6}$/);
    expect(headlessSessionName("alpha")).toBe("clanker-alpha");
    expect(adapter.attachHint()).toBe(`tmux -L ${socketName} attach -t ${session}`);
  });

  it("creates the detached session on first spawn and adds a window per teammate", async () => {
    const canary = join(tmp, "CANARY");
    const a = spec("alice", hostileStrings(canary));
    const b = spec("bob;");
    const [pa, pb] = await Promise.all([adapter.spawn(a.spec), adapter.spawn(b.spec)]);
    expect(await hasSession()).toBe(true);
    expect((await readReport(a.out)).argv).toEqual(hostileStrings(canary));
    expect((await readReport(b.out)).env).toEqual({ CT_NAME: "bob;" });
    expect(pa).toMatchObject({ kind: "headless", session });
    socketPath = pa.socket;
    const windows = (await tmux(["list-windows", "-t", `=${session}`, "-F", "#{window_name}"])).stdout.split("\n");
    expect(windows).toEqual(["alice", "bob;"]);
    expect(await adapter.isAlive(pa)).toBe(true);
    expect(await adapterFor(pb, { socketName }).isAlive(pb)).toBe(true);
    expect(existsSync(canary)).toBe(false);

    await adapter.kill(pa);
    expect(isPidAlive(pa.pid!)).toBe(false);
    expect(await adapter.isAlive(pa)).toBe(false);
    expect(await adapter.isAlive(pb)).toBe(true);

    // The session ends with its last teammate.
    await adapter.kill(pb);
    await waitFor(async () => !(await hasSession()), 3000, "session to end");
  });

  it("destroy() stops every teammate and removes the session", async () => {
    const c = spec("carol");
    const d = spec("dave");
    const pc = await adapter.spawn(c.spec);
    const pd = await adapter.spawn(d.spec);
    await Promise.all([readReport(c.out), readReport(d.out)]);
    await adapter.destroy!();
    expect(await hasSession()).toBe(false);
    expect(isPidAlive(pc.pid!)).toBe(false);
    expect(isPidAlive(pd.pid!)).toBe(false);
    await adapter.destroy!(); // no-op when gone
  });
});
