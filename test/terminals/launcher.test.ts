import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { launcherArgv, launchScript, readPidFile, RunDir } from "../../src/agents/terminals/launcher.js";
import { typedLine } from "../../src/agents/terminals/iterm2.js";
import { isPidAlive, terminate } from "../../src/agents/terminals/process.js";
import { agentArgv, hostileStrings, makeTmp, readReport } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
// A path cannot hold "/", so the dir name's own payloads touch a relative CANARY (checked in both dirs).
const hostileDir = join(tmp, `dir 'q' "d" $(touch CANARY) ; \`touch CANARY\` \\ #(touch CANARY) -\nnl;`);
mkdirSync(hostileDir);
const env = { CT_ALL: corpus.join("|"), CT_SEMI: "x;", CT_NL: "a\nb", CT_EMPTY: "", CT_EQ: "a=b=c" };
const started: number[] = [];
const noCanary = () => ![canary, join(hostileDir, "CANARY"), join(process.cwd(), "CANARY")].some(existsSync);

afterAll(async () => {
  await Promise.all(started.map((pid) => terminate(pid, { graceMs: 200 })));
});

describe("pid launcher (sh -c, argv only)", () => {
  for (const shell of ["/bin/sh", "bash"]) {
    it(`runs the program byte for byte under ${shell}, records its pid, sets env`, async () => {
      const out = join(tmp, `launch-${shell.replaceAll("/", "_")}.json`);
      const pidFile = join(tmp, `pid-${shell.replaceAll("/", "_")}`);
      const argv = launcherArgv({ argv: agentArgv(corpus), env: { ...env, AGENT_OUT: out }, pidFile, title: "t" });
      argv[0] = shell;
      const child = execa(argv[0], argv.slice(1), { cwd: hostileDir, detached: true, stdio: "ignore", reject: false });
      const report = await readReport(out);
      const pid = await readPidFile(pidFile);
      started.push(report.pid);
      expect(report.argv).toEqual(corpus);
      expect(report.env).toEqual(env);
      expect(report.cwd).toBe(hostileDir);
      expect(pid).toBe(report.pid); // exec kept the launcher's pid
      expect(pid).toBe(child.pid);
      expect(existsSync(pidFile)).toBe(false); // consumed
      expect(noCanary()).toBe(true);
    });
  }
});

describe("launch script (iTerm2: typed line + sh script file)", () => {
  for (const shell of ["/bin/sh", "bash"]) {
    it(`works when the typed line is read by ${shell}`, async () => {
      const runDir = new RunDir(makeTmp("ct-run-"));
      const out = join(tmp, `script-${shell.replaceAll("/", "_")}.json`);
      const pidFile = runDir.file("pid");
      const script = runDir.writePrivate(
        "launch",
        ".sh",
        launchScript({ argv: agentArgv(corpus), env: { ...env, AGENT_OUT: out }, cwd: hostileDir, pidFile }),
      );
      const line = typedLine(script);
      expect(line).not.toMatch(/[\n\r]/); // one line: write text submits on newline
      execa(shell, ["-c", line], { detached: true, stdio: "ignore", reject: false });
      const report = await readReport(out);
      started.push(report.pid);
      expect(report.argv).toEqual(corpus);
      expect(report.env).toEqual(env);
      expect(report.cwd).toBe(hostileDir);
      expect(await readPidFile(pidFile)).toBe(report.pid);
      expect(existsSync(script)).toBe(false); // deleted itself
      expect(noCanary()).toBe(true);
    });
  }

  it("refuses a run directory that a shell could misread", () => {
    expect(() => typedLine("/tmp/it's/x.sh")).toThrow(/quotes/);
    expect(() => typedLine("/tmp/a\nb/x.sh")).toThrow(/control/);
    expect(typedLine("/tmp/a b/x.sh")).toBe(" exec /bin/sh '/tmp/a b/x.sh'");
  });
});

describe("readPidFile", () => {
  it("gives up after the timeout", async () => {
    expect(await readPidFile(join(tmp, "never"), 100)).toBeUndefined();
  });

  it("ignores a half-written file", async () => {
    const path = join(tmp, "half");
    writeFileSync(path, "12");
    expect(await readPidFile(path, 100)).toBeUndefined();
    writeFileSync(path, "12\n");
    expect(await readPidFile(path, 100)).toBe(12);
  });
});

describe("RunDir", () => {
  it("creates private files in a private directory", async () => {
    const dir = new RunDir();
    const { statSync } = await import("node:fs");
    const file = dir.writePrivate("x", ".sh", "echo");
    expect(statSync(dir.path()).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(isPidAlive(process.pid)).toBe(true);
  });
});
