// REAL tmux: these tests start private tmux servers (own socket under /tmp) and kill them afterwards.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adapterFor } from "../../src/agents/terminals/detect.js";
import { isPidAlive } from "../../src/agents/terminals/process.js";
import { LEAD_TAG, TmuxAdapter } from "../../src/agents/terminals/tmux.js";
import type { PaneRef } from "../../src/agents/terminals/types.js";
import { agentArgv, hostileStrings, makeTmp, readReport, startTmuxServer, waitFor, type TmuxServer } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
const hostileDir = join(tmp, `dir 'q' "d" $(touch CANARY) ; \`touch CANARY\` \\ #(touch CANARY) #{pane_id} -\nnl;`);
mkdirSync(hostileDir);
const hostileTitle = `alice 'q' "d" $(touch CANARY) \`touch CANARY\` #(touch CANARY) #{pane_id} \\ ;`;
const noCanary = () => ![canary, join(hostileDir, "CANARY"), join(tmp, "CANARY"), join(process.cwd(), "CANARY")].some(existsSync);

let server: TmuxServer;
let adapter: TmuxAdapter;

beforeAll(async () => {
  server = await startTmuxServer();
  adapter = new TmuxAdapter({ env: server.env, graceMs: 500 });
});

afterAll(async () => {
  await server?.kill();
});

const spec = (name: string, args: string[] = [], env: Record<string, string> = {}) => {
  const out = join(tmp, `${name}-${Math.random().toString(36).slice(2)}.json`);
  return { out, spec: { argv: agentArgv(args), cwd: tmp, env: { AGENT_OUT: out, ...env }, title: name } };
};

const paneExists = async (id: string) => (await server.tmux(["list-panes", "-a", "-F", "#{pane_id}"])).split("\n").includes(id);

describe("tmux adapter (real tmux)", () => {
  let pane: PaneRef;

  it("spawns the agent with argv, env, cwd and title byte for byte, running nothing", async () => {
    const out = join(tmp, "hostile.json");
    const env = { AGENT_OUT: out, CT_ALL: corpus.join("|"), CT_SEMI: "x;", CT_FMT: "#(touch CANARY)#{pane_id}", CT_NL: "a\nb" };
    // Escapes in a title (set the outer window's title, reverse text) arrive only as visible text.
    pane = await adapter.spawn({ argv: agentArgv(corpus), cwd: hostileDir, env, title: hostileTitle + "\x1b]2;x\x07\u202e\n" });
    const report = await readReport(out);
    expect(report.argv).toEqual(corpus);
    expect(report.cwd).toBe(hostileDir);
    expect(report.env).toEqual({ CT_ALL: env.CT_ALL, CT_SEMI: "x;", CT_FMT: env.CT_FMT, CT_NL: "a\nb" });
    const shown = hostileTitle + String.raw`\x1b]2;x\x07\u202e`;
    expect(pane).toMatchObject({ kind: "tmux", pid: report.pid, socket: server.socket, title: shown });
    expect(await server.tmux(["display-message", "-p", "-t", pane.paneId, "#{pane_title}"])).toBe(shown);
    expect(await server.tmux(["display-message", "-p", "-t", pane.paneId, `#{${LEAD_TAG}}`])).toBe(server.lead);
    expect(await adapter.isAlive(pane)).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // give any #() job a chance to (not) run
    expect(noCanary()).toBe(true);
  });

  it("is reachable from a process outside tmux, through the socket stored in the PaneRef", async () => {
    const outside = adapterFor(pane, { env: {} });
    expect(await outside.isAlive(pane)).toBe(true);
    expect(await outside.isAlive({ ...pane, pid: pane.pid! + 1 })).toBe(false); // a different program in a reused pane id
  });

  it("kills the pane and its process", async () => {
    await adapter.kill(pane);
    expect(isPidAlive(pane.pid!)).toBe(false);
    expect(await paneExists(pane.paneId)).toBe(false);
    expect(await adapter.isAlive(pane)).toBe(false);
    await adapter.kill(pane); // idempotent
  });

  it("escalates to SIGKILL when the agent ignores SIGTERM", async () => {
    const { out, spec: s } = spec("stubborn", [], { AGENT_IGNORE_TERM: "1" });
    const p = await adapter.spawn(s);
    await readReport(out);
    await adapter.kill(p);
    expect(isPidAlive(p.pid!)).toBe(false);
    expect(await adapter.isAlive(p)).toBe(false);
  });

  it("sees a pane kept open by remain-on-exit as dead, and kill closes it", async () => {
    const { out, spec: s } = spec("crashy");
    const p = await adapter.spawn(s);
    await readReport(out);
    await server.tmux(["set-option", "-p", "-t", p.paneId, "remain-on-exit", "on"]);
    process.kill(p.pid!, "SIGKILL");
    await waitFor(async () => (await server.tmux(["display-message", "-p", "-t", p.paneId, "#{pane_dead}"])) === "1", 3000, "pane_dead");
    expect(await adapter.isAlive(p)).toBe(false);
    expect(await paneExists(p.paneId)).toBe(true);
    await adapter.kill(p);
    expect(await paneExists(p.paneId)).toBe(false);
  });

  it("lays out 3 teammates: lead left and widest, teammates stacked on the right, focus kept on the lead", async () => {
    const specs = ["t1", "t2", "t3"].map((n) => spec(n));
    // Concurrent spawns must still form one column.
    const panes = await Promise.all(specs.map((s) => adapter.spawn(s.spec)));
    await Promise.all(specs.map((s) => readReport(s.out)));
    const rows = (await server.tmux(["list-panes", "-t", server.lead, "-F", "#{pane_id} #{pane_left} #{pane_top} #{pane_width} #{pane_height} #{pane_active}"]))
      .split("\n")
      .map((l) => l.split(" "))
      .map(([id, left, top, width, height, active]) => ({ id, left: +left!, top: +top!, width: +width!, height: +height!, active: active === "1" }));
    const lead = rows.find((r) => r.id === server.lead)!;
    const mates = panes.map((p) => rows.find((r) => r.id === p.paneId)!);
    expect(rows).toHaveLength(4);
    expect(lead.left).toBe(0);
    expect(lead.active).toBe(true);
    expect(lead.height).toBeGreaterThanOrEqual(48); // full height, less the title border line
    for (const m of mates) {
      expect(m.left).toBeGreaterThan(lead.width);
      expect(m.width).toBeLessThan(lead.width);
    }
    expect(mates.map((m) => m.top)).toEqual([...mates.map((m) => m.top)].sort((a, b) => a - b)); // spawn order, top down
    const heights = mates.map((m) => m.height);
    expect(Math.max(...heights) - Math.min(...heights)).toBeLessThanOrEqual(1); // evened out
    await Promise.all(panes.map((p) => adapter.kill(p)));
    expect(await server.tmux(["list-panes", "-t", server.lead, "-F", "#{pane_id}"])).toBe(server.lead);
  });

  it("opens a new window when the lead's window has no room left", async () => {
    const small = await startTmuxServer(40, 8);
    try {
      const a = new TmuxAdapter({ env: small.env, graceMs: 300 });
      const specs = Array.from({ length: 6 }, (_, i) => spec(`s${i}`));
      const panes = [];
      for (const s of specs) panes.push(await a.spawn(s.spec));
      await Promise.all(specs.map((s) => readReport(s.out)));
      for (const p of panes) expect(await a.isAlive(p)).toBe(true);
      expect(Number(await small.tmux(["display-message", "-p", "-t", small.lead, "#{session_windows}"]))).toBeGreaterThan(1);
      await Promise.all(panes.map((p) => a.kill(p)));
      for (const p of panes) expect(isPidAlive(p.pid!)).toBe(false);
    } finally {
      await small.kill();
    }
  });

  it("says clearly when the lead's pane is unknown, and rejects bad pane ids", async () => {
    const lost = new TmuxAdapter({ env: { TMUX: server.env.TMUX, TMUX_PANE: "" } });
    await expect(lost.spawn(spec("x").spec)).rejects.toThrow(/TMUX_PANE is not set/);
    await expect(adapter.isAlive({ kind: "tmux", paneId: "%9999" })).resolves.toBe(false);
    await expect(adapter.isAlive({ kind: "tmux", paneId: "1; kill-server" })).rejects.toThrow(/not a tmux pane id/);
  });

  it("reports a pane on a server that is gone as dead", async () => {
    const gone = await startTmuxServer();
    const a = new TmuxAdapter({ env: gone.env });
    const s = spec("g");
    const p = await a.spawn(s.spec);
    await readReport(s.out);
    await gone.kill();
    await waitFor(async () => !(await a.isAlive(p)), 3000, "pane to be reported dead");
  });
});
