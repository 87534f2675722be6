// iTerm2 cannot run here: the adapter runs against the recording stand-in (test/fixtures/recorder/osascript) on PATH.
// For a spawn the stand-in does what iTerm2's `write text` amounts to: a shell (/bin/sh or bash) reads the typed line.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALIVE_SCRIPT, CLOSE_SCRIPT, Iterm2Adapter, sessionFromItermEnv, SPAWN_SCRIPT } from "../../src/agents/terminals/iterm2.js";
import { isPidAlive } from "../../src/agents/terminals/process.js";
import { agentArgv, FIXTURES, hostileStrings, makeTmp, readLog, readReport } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
const hostileDir = join(tmp, `i 'q' "d" $(touch CANARY) \`touch CANARY\` ; \\ #x\nnl`);
mkdirSync(hostileDir);
const noCanary = () => ![canary, join(hostileDir, "CANARY"), join(process.cwd(), "CANARY")].some(existsSync);

function setup(extraEnv: Record<string, string> = {}) {
  const log = join(makeTmp("ct-rec-"), "log.jsonl");
  const env = {
    PATH: `${FIXTURES}:${process.env.PATH}`,
    RECORDER_LOG: log,
    TERM_PROGRAM: "iTerm.app",
    ITERM_SESSION_ID: "w0t0p0:LEAD-GUID-1234",
    ...extraEnv,
  };
  return { log, adapter: new Iterm2Adapter({ env, graceMs: 300 }) };
}

describe("iTerm2 adapter (recorded osascript)", () => {
  for (const shell of ["/bin/sh", "bash"]) {
    it(`delivers argv, env and cwd byte for byte when the user's shell is ${shell}`, async () => {
      const { log, adapter } = setup({ RECORDER_SHELL: shell });
      const out = join(tmp, `i-${shell.replaceAll("/", "")}.json`);
      const env = { AGENT_OUT: out, CT_ALL: corpus.join("|"), CT_NL: "a\nb" };
      const title = `alice "q" 'x' $(touch CANARY)`;
      const pane = await adapter.spawn({ argv: agentArgv(corpus), cwd: hostileDir, env, title });

      const [call] = readLog(log);
      expect(call!.tool).toBe("osascript");
      const [flag, script, gotTitle, line, lastId, leadId] = call!.argv;
      expect([flag, script, gotTitle, lastId, leadId]).toEqual(["-e", SPAWN_SCRIPT, title, "", "LEAD-GUID-1234"]);
      expect(call!.argv).toHaveLength(6);
      expect(line).toMatch(/^ exec \/bin\/sh \/[A-Za-z0-9_./-]+\.sh$/); // nothing of the user's in the typed line

      const report = await readReport(out);
      expect(report.argv).toEqual(corpus);
      expect(report.cwd).toBe(hostileDir);
      expect(report.env).toEqual({ CT_ALL: env.CT_ALL, CT_NL: "a\nb" });
      expect(pane).toEqual({ kind: "iterm2", paneId: "SESSION-1", pid: report.pid, title });
      expect(noCanary()).toBe(true);

      expect(await adapter.isAlive(pane)).toBe(true);
      await adapter.kill(pane);
      expect(isPidAlive(report.pid)).toBe(false);
      expect(await adapter.isAlive(pane)).toBe(false);
      expect(readLog(log).at(-1)!.argv).toEqual(["-e", CLOSE_SCRIPT, "SESSION-1"]);
    });
  }

  it("splits the lead first, then below the last teammate", async () => {
    const { log, adapter } = setup();
    const panes = [];
    for (const name of ["a", "b"]) {
      const out = join(tmp, `i-${name}.json`);
      panes.push(await adapter.spawn({ argv: agentArgv([]), cwd: tmp, env: { AGENT_OUT: out }, title: name }));
      await readReport(out);
    }
    expect(readLog(log).map((c) => c.argv.slice(4))).toEqual([
      ["", "LEAD-GUID-1234"],
      ["SESSION-1", "LEAD-GUID-1234"],
    ]);
    await Promise.all(panes.map((p) => adapter.kill(p)));
  });

  it("checks a session without a pid through AppleScript", async () => {
    const { log, adapter } = setup();
    expect(await adapter.isAlive({ kind: "iterm2", paneId: "NOPE" })).toBe(false);
    expect(readLog(log).at(-1)!.argv).toEqual(["-e", ALIVE_SCRIPT, "NOPE"]);
  });

  it("reads the lead's session id from ITERM_SESSION_ID", () => {
    expect(sessionFromItermEnv("w0t1p2:ABC-DEF")).toBe("ABC-DEF");
    expect(sessionFromItermEnv(undefined)).toBe("");
  });
});

/** Block structure of an AppleScript: every opener closed by the matching `end`. */
function checkBlocks(script: string): void {
  const stack: string[] = [];
  for (const raw of script.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("--")) continue;
    const end = /^end (\w+)/.exec(line);
    if (end) {
      const open = stack.pop();
      expect(open, `unexpected "${line}"`).toBeDefined();
      expect(end[1] === open || (open === "handler" && /^(run|findSession)$/.test(end[1]!)), `"${line}" closes ${open}`).toBe(true);
      continue;
    }
    if (/^on \w+/.test(line)) stack.push("handler");
    else if (/^tell\b/.test(line) && !/\bto\b/.test(line)) stack.push("tell");
    else if (/^if\b.*\bthen$/.test(line)) stack.push("if");
    else if (/^repeat\b/.test(line)) stack.push("repeat");
  }
  expect(stack).toEqual([]);
}

describe("AppleScript text", () => {
  it("uses iTerm2's documented commands and takes user data only from argv", () => {
    expect(SPAWN_SCRIPT).toContain("on run argv");
    expect(SPAWN_SCRIPT).toContain("split vertically with default profile");
    expect(SPAWN_SCRIPT).toContain("split horizontally with default profile");
    expect(SPAWN_SCRIPT).toContain("set name to theTitle");
    expect(SPAWN_SCRIPT).toContain("write text theLine");
    expect(SPAWN_SCRIPT).toContain("return id of newSession");
    expect(SPAWN_SCRIPT).toContain('tell application "iTerm2"');
    expect(CLOSE_SCRIPT).toContain("tell theSession to close");
  });

  for (const [name, script] of Object.entries({ SPAWN_SCRIPT, ALIVE_SCRIPT, CLOSE_SCRIPT })) {
    it(`${name} has balanced blocks`, () => checkBlocks(script));
  }
});
