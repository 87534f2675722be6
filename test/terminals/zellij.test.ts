// Zellij cannot run here: the adapter runs against the recording stand-in (test/fixtures/recorder/zellij) on PATH,
// which logs its argv and starts the requested program the way `zellij run` would.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LAUNCHER_SCRIPT } from "../../src/agents/terminals/launcher.js";
import { isPidAlive } from "../../src/agents/terminals/process.js";
import { parseZellijPaneId, ZellijAdapter } from "../../src/agents/terminals/zellij.js";
import { agentArgv, FIXTURES, hostileStrings, makeTmp, readLog, readReport } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
const hostileDir = join(tmp, `z 'q' $(touch CANARY) \`touch CANARY\` ;\nx`);
mkdirSync(hostileDir);

function setup(extraEnv: Record<string, string> = {}) {
  const log = join(makeTmp("ct-rec-"), "log.jsonl");
  const env = { PATH: `${FIXTURES}:${process.env.PATH}`, RECORDER_LOG: log, ZELLIJ: "0", ZELLIJ_SESSION_NAME: "lead-session", ...extraEnv };
  return { log, adapter: new ZellijAdapter({ env, graceMs: 300 }) };
}

describe("zellij adapter (recorded)", () => {
  it("runs `zellij run` with the documented options and the program after --, byte for byte", async () => {
    const { log, adapter } = setup();
    const out = join(tmp, "z1.json");
    const title = "-alice 'q' $(touch CANARY)";
    const env = { AGENT_OUT: out, CT_ALL: corpus.join("|"), CT_SEMI: "x;" };
    const pane = await adapter.spawn({ argv: agentArgv(corpus), cwd: hostileDir, env, title });

    const [call] = readLog(log);
    expect(call!.tool).toBe("zellij");
    const pidFile = call!.argv[10]!;
    expect(call!.argv).toEqual([
      "run", `--name=${title}`, `--cwd=${hostileDir}`, "--direction=right", "--close-on-exit", "--",
      "/bin/sh", "-c", LAUNCHER_SCRIPT, "clanker-launch", pidFile, "",
      `AGENT_OUT=${out}`, `CT_ALL=${env.CT_ALL}`, "CT_SEMI=x;", "--", ...agentArgv(corpus),
    ]);
    const report = await readReport(out);
    expect(report.argv).toEqual(corpus);
    expect(report.cwd).toBe(hostileDir);
    expect(report.env).toEqual({ CT_ALL: env.CT_ALL, CT_SEMI: "x;" });
    expect(pane).toEqual({ kind: "zellij", paneId: "terminal_1", pid: report.pid, session: "lead-session", title });
    expect(existsSync(canary) || existsSync(join(hostileDir, "CANARY"))).toBe(false);

    expect(await adapter.isAlive(pane)).toBe(true);
    await adapter.kill(pane);
    expect(isPidAlive(report.pid)).toBe(false);
    expect(await adapter.isAlive(pane)).toBe(false);
  });

  it("stacks later teammates downwards", async () => {
    const { log, adapter } = setup();
    const panes = [];
    for (const name of ["a", "b", "c"]) {
      const out = join(tmp, `z-${name}.json`);
      panes.push(await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: name }));
      await readReport(out);
    }
    expect(readLog(log).map((c) => c.argv[3])).toEqual(["--direction=right", "--direction=down", "--direction=down"]);
    await Promise.all(panes.map((p) => adapter.kill(p)));
    for (const p of panes) expect(isPidAlive(p.pid!)).toBe(false);
  });

  it("works with a Zellij that prints no pane id (before 0.44): tracked by pid", async () => {
    const { adapter } = setup({ RECORDER_ZELLIJ_SILENT: "1" });
    const out = join(tmp, "z-silent.json");
    const pane = await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: "s" });
    const report = await readReport(out);
    expect(pane.paneId).toBe(`pid:${report.pid}`);
    await adapter.kill(pane);
    expect(await adapter.isAlive(pane)).toBe(false);
  });

  it("falls back to the pane id when no pid is known", async () => {
    const { log, adapter } = setup();
    const out = join(tmp, "z-nopid.json");
    const pane = await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: "n" });
    await readReport(out);
    const noPid = { kind: "zellij" as const, paneId: pane.paneId, session: "other-session" };
    expect(await adapter.isAlive(noPid)).toBe(true);
    await adapter.kill(noPid);
    expect(await adapter.isAlive(noPid)).toBe(false);
    const calls = readLog(log).slice(1).map((c) => c.argv);
    expect(calls).toContainEqual(["--session", "other-session", "action", "list-panes", "--json"]);
    expect(calls).toContainEqual(["--session", "other-session", "action", "close-pane", "--pane-id", pane.paneId]);
  });

  it("parses pane ids from `zellij run` output", () => {
    expect(parseZellijPaneId("terminal_5\n")).toBe("terminal_5");
    expect(parseZellijPaneId("7")).toBe("terminal_7");
    expect(parseZellijPaneId("")).toBeUndefined();
  });

  it("says what to install when zellij is missing", async () => {
    const adapter = new ZellijAdapter({ bin: "/nonexistent/zellij" });
    await expect(adapter.spawn({ argv: ["pi"], cwd: tmp, env: {}, title: "x" })).rejects.toThrow(/zellij is not installed/);
  });
});
