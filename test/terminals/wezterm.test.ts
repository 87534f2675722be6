// WezTerm cannot run here: the adapter runs against the recording stand-in (test/fixtures/recorder/wezterm) on PATH,
// which logs its argv, starts the program as `wezterm cli split-pane` would and prints the new pane id.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LAUNCHER_SCRIPT } from "../../src/agents/terminals/launcher.js";
import { isPidAlive } from "../../src/agents/terminals/process.js";
import { WeztermAdapter } from "../../src/agents/terminals/wezterm.js";
import { agentArgv, FIXTURES, hostileStrings, makeTmp, readLog, readReport, waitFor } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
const hostileDir = join(tmp, `w 'q' $(touch CANARY) \`touch CANARY\` ;\nx`);
mkdirSync(hostileDir);

function setup(extraEnv: Record<string, string> = {}) {
  const log = join(makeTmp("ct-rec-"), "log.jsonl");
  const env = { PATH: `${FIXTURES}:${process.env.PATH}`, RECORDER_LOG: log, WEZTERM_PANE: "0", ...extraEnv };
  return { log, adapter: new WeztermAdapter({ env, graceMs: 300 }) };
}

describe("wezterm adapter (recorded)", () => {
  it("splits the lead's own pane to the right and runs the program after --, byte for byte", async () => {
    const { log, adapter } = setup();
    const out = join(tmp, "w1.json");
    const title = "alice\n'q' $(touch CANARY)";
    const env = { AGENT_OUT: out, CT_ALL: corpus.join("|") };
    const pane = await adapter.spawn({ argv: agentArgv(corpus), cwd: hostileDir, env, title });

    const [call] = readLog(log);
    const pidFile = call!.argv[11]!;
    expect(call!.argv).toEqual([
      "cli", "split-pane", "--pane-id=0", "--right", "--percent=45", `--cwd=${hostileDir}`, "--",
      "/bin/sh", "-c", LAUNCHER_SCRIPT, "clanker-launch", pidFile, String.raw`alice\n'q' $(touch CANARY)`,
      `AGENT_OUT=${out}`, `CT_ALL=${env.CT_ALL}`, "--", ...agentArgv(corpus),
    ]);
    const report = await readReport(out);
    expect(report.argv).toEqual(corpus);
    expect(report.cwd).toBe(hostileDir);
    expect(report.env).toEqual({ CT_ALL: env.CT_ALL });
    expect(pane).toEqual({ kind: "wezterm", paneId: "1", pid: report.pid, title: String.raw`alice\n'q' $(touch CANARY)` });
    expect(existsSync(canary) || existsSync(join(hostileDir, "CANARY"))).toBe(false);

    expect(await adapter.isAlive(pane)).toBe(true);
    await adapter.kill(pane);
    expect(isPidAlive(report.pid)).toBe(false);
    expect(await adapter.isAlive(pane)).toBe(false);
    expect(await adapter.isAlive({ kind: "wezterm", paneId: "1" })).toBe(false); // by listing
  });

  it("stacks later teammates below the tallest teammate, never splitting the lead again", async () => {
    const { log, adapter } = setup();
    const panes = [];
    for (const name of ["a", "b", "c"]) {
      const out = join(tmp, `w-${name}.json`);
      panes.push(await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: name }));
      await readReport(out);
    }
    const splits = readLog(log).filter((c) => c.argv[1] === "split-pane").map((c) => c.argv.slice(2, 4));
    expect(splits).toEqual([
      ["--pane-id=0", "--right"],
      ["--pane-id=1", "--bottom"],
      ["--pane-id=1", "--bottom"], // 1 and 2 are equally tall: the older one
    ]);
    expect(readLog(log).some((c) => c.argv.join(" ") === "cli list --format json")).toBe(true);
    await Promise.all(panes.map((p) => adapter.kill(p)));
    for (const p of panes) expect(isPidAlive(p.pid!)).toBe(false);
  });

  it("closes a pane by id when no pid is known", async () => {
    const { log, adapter } = setup();
    const out = join(tmp, "w-nopid.json");
    const pane = await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: "n" });
    await readReport(out);
    await adapter.kill({ kind: "wezterm", paneId: pane.paneId });
    expect(readLog(log).at(-1)!.argv).toEqual(["cli", "kill-pane", `--pane-id=${pane.paneId}`]);
    await waitFor(() => !isPidAlive(pane.pid!), 3000, "the stand-in WezTerm to kill the pane's program");
  });

  it("needs WEZTERM_PANE to know the lead's pane", async () => {
    const { adapter } = setup({ WEZTERM_PANE: "" });
    await expect(adapter.spawn({ argv: ["pi"], cwd: tmp, env: {}, title: "x" })).rejects.toThrow(/WEZTERM_PANE is not set/);
  });
});
