import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { isPidAlive, terminate } from "../../src/agents/terminals/process.js";
import { agentArgv, makeTmp, readReport } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();

async function startAgent(env: Record<string, string>) {
  const out = join(tmp, `agent-${Math.random()}.json`);
  const [file, ...args] = agentArgv([]);
  execa(file!, args, { env: { ...env, AGENT_OUT: out }, detached: true, stdio: "ignore", reject: false });
  return (await readReport(out)).pid;
}

describe("terminate", () => {
  it("stops a process with SIGTERM", async () => {
    const pid = await startAgent({});
    expect(isPidAlive(pid)).toBe(true);
    expect(await terminate(pid, { graceMs: 2000 })).toBe(true);
    expect(isPidAlive(pid)).toBe(false);
  });

  it("falls back to SIGKILL when SIGTERM is ignored, calling beforeKill first", async () => {
    const pid = await startAgent({ AGENT_IGNORE_TERM: "1" });
    let called = false;
    const started = Date.now();
    expect(await terminate(pid, { graceMs: 300, beforeKill: async () => void (called = true) })).toBe(true);
    expect(called).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(isPidAlive(pid)).toBe(false);
  });

  it("treats nonsense pids as dead", () => {
    expect(isPidAlive(0)).toBe(false);
    expect(isPidAlive(1)).toBe(false);
    expect(isPidAlive(-5)).toBe(false);
    expect(isPidAlive(2 ** 22 + 7)).toBe(false);
  });
});
