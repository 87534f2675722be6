/**
 * SLOW, REAL: runs the whole demo (`clanker-teams demo`: real tmux, a real pi
 * lead and two real pi teammates with the scripted model), 15–40 s per run.
 * Checks that Ctrl-C leaves nothing behind, that --keep tells the truth about
 * what still runs, that pi's tmux warning is gone and the step list is printed once.
 * Linux: processes of the demo are found by their environment (/proc/<pid>/environ).
 */
import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { CLI, cleanupTemp, tempDir, until } from "./helpers/fixtures.js";
import { isPidAlive } from "../src/agents/terminals/process.js";

const sockets: string[] = [];
afterAll(async () => {
  for (const s of sockets) await execa("tmux", ["-S", s, "kill-server"], { reject: false });
  cleanupTemp();
});

/** pids of every process whose environment has TMPDIR under `dir` (the demo passes its TMPDIR to everything it starts). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const env = fs.readFileSync(`/proc/${e}/environ`, "utf8").split("\0");
      if (env.some((v) => v === `TMPDIR=${dir}` || v.startsWith(`TMPDIR=${dir}/`)) && isPidAlive(Number(e))) out.push(Number(e));
    } catch { /* gone, or not ours */ }
  }
  return out;
}

function startDemo(tmp: string, args: string[] = []) {
  // detached: its own process group, so a SIGINT to the group is what Ctrl-C in a terminal sends.
  const child = execa(process.execPath, [CLI, "demo", ...args], {
    env: { ...process.env, TMPDIR: tmp, NO_COLOR: "1", CLANKER_DEMO_TIMEOUT_MS: "120000" },
    detached: true,
    reject: false,
    all: true,
  });
  const seen = { out: "" };
  child.all!.on("data", (b) => (seen.out += b));
  return { child, seen };
}

describe("demo (slow: a real pi lead and teammates in tmux)", () => {
  it("Ctrl-C (SIGINT) stops the lead, the teammates and the tmux server, removes the temp dir, and says so", async () => {
    const tmp = tempDir("clanker-demo-int-");
    const { child, seen } = startDemo(tmp);
    await until(() => seen.out.includes("both teammates greeted the lead"), 90_000);
    const socket = /tmux -S (\S+) attach/.exec(seen.out)![1]!;
    sockets.push(socket);
    const before = processesUnder(tmp);
    // The demo itself, the tmux server, the lead pi and two teammates (plus whatever they run).
    expect(before.length).toBeGreaterThanOrEqual(5);
    process.kill(-child.pid!, "SIGINT");
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(seen.out).toMatch(/Interrupted \(SIGINT\): stopping the demo's agents and tmux server/);
    expect(seen.out).toMatch(/Stopped \d+ process\(es\) and the tmux server; removed \S+clanker-demo-\w+\./);
    expect(seen.out).not.toMatch(/Could not stop/);
    expect(before.filter(isPidAlive)).toEqual([]);
    expect(processesUnder(tmp)).toEqual([]);
    expect((await execa("tmux", ["-S", socket, "list-sessions"], { reject: false })).exitCode).not.toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]); // no temp dir, no socket, no agent temp files
  }, 150_000);

  it("--keep says truthfully what still runs; pi's extended-keys warning is gone; the step list is printed once", async () => {
    const tmp = tempDir("clanker-demo-keep-");
    const { child, seen } = startDemo(tmp, ["--keep"]);
    const r = await child;
    const socket = /tmux -S (\S+) attach/.exec(seen.out)![1]!;
    sockets.push(socket);
    expect([r.exitCode, seen.out]).toEqual([0, expect.stringContaining("Demo passed")]);
    // Each step once (as it happened), not again in the summary.
    expect(seen.out.split("lead created the team").length - 1).toBe(1);
    expect(seen.out.split("both teammates shut down").length - 1).toBe(1);
    // The teammates were shut down by the lead; the lead's pi is still up. Check what tmux says.
    const panes = (await execa("tmux", ["-S", socket, "list-panes", "-a", "-F", "#{pane_id} #{pane_pid} #{pane_dead}"])).stdout.split("\n").map((l) => l.split(" "));
    const live = panes.filter(([, pid, dead]) => dead === "0" && isPidAlive(Number(pid)));
    expect(live.map(([id]) => id)).toEqual(["%0"]); // only the lead's pane
    expect(seen.out).toMatch(/\nStill running: team-lead\. Look: tmux -S \S+ attach -t clanker-demo\n/);
    expect(seen.out).toMatch(/\nExited: bob, alice\.\n/);
    expect(seen.out).not.toMatch(/panes are still running/);
    // pi asks tmux for extended-keys at start and prints a warning in its pane if it is off.
    for (const [id] of panes) {
      const text = (await execa("tmux", ["-S", socket, "capture-pane", "-p", "-S", "-", "-t", id!])).stdout;
      expect([id, text.includes("extended-keys")]).toEqual([id, false]);
    }
    await execa("tmux", ["-S", socket, "kill-server"], { reject: false });
  }, 150_000);
});
