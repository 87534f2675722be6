/**
 * Reservations with real processes, on both stores: 20 member processes
 * racing for overlapping globs never give two members conflicting holds on
 * one path (checked at every step of the event log, which commits with each
 * change); a holder killed with SIGKILL loses its reservation within the
 * lease (judged by heartbeat, as for a holder on another host) and not
 * before, and the lead is told.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { patternsOverlap } from "../../src/domain/globs.js";
import { listReservations, reserveFiles } from "../../src/domain/reservations.js";
import { recoverAbandoned } from "../../src/domain/presence.js";
import { readInbox } from "../../src/domain/messages.js";
import { readEvents } from "../../src/domain/events.js";
import type { TeamEvent } from "../../src/schemas.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";
import { release, runAll, startWorker, type Worker } from "../helpers/procs.js";
import { KINDS, settle } from "../contract/stores.js";
import { team, type Team } from "./helpers.js";

const running: Worker[] = [];
afterAll(async () => {
  for (const w of running) w.kill();
  await settle();
  cleanupTemp();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replays the reservation events in commit order; returns every moment two members held conflicting reservations. */
function conflictsInHistory(events: TeamEvent[]): string[] {
  const held = new Map<string, { holder: string; path: string; exclusive: boolean }>();
  const bad: string[] = [];
  for (const e of events) {
    const d = e.data as { holder: string; paths?: string[]; path?: string; exclusive?: boolean };
    const paths = d.paths ?? (d.path ? [d.path] : []);
    if (e.kind === "reservation.added") for (const p of paths) held.set(`${d.holder}\0${p}`, { holder: d.holder, path: p, exclusive: d.exclusive !== false });
    else if (e.kind.startsWith("reservation.")) for (const p of paths) held.delete(`${d.holder}\0${p}`);
    else continue;
    const all = [...held.values()];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const x = all[i]!;
        const y = all[j]!;
        if (x.holder !== y.holder && (x.exclusive || y.exclusive) && patternsOverlap(x.path, y.path)) bad.push(`seq ${e.seq}: ${x.holder} ${x.path}${x.exclusive ? " (x)" : ""} vs ${y.holder} ${y.path}${y.exclusive ? " (x)" : ""}`);
      }
    }
  }
  return bad;
}

describe.each(KINDS)("reservations with real processes, %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });

  it("20 processes racing for overlapping globs: never two members holding one path in conflicting modes", async () => {
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    T = await team(kind, "t", agents, { realClock: true });
    const dir = tempDir("clanker-race-");
    const ws = agents.map((a, i) => startWorker(String(T.s.env.CLANKER_TEAMS_DIR ?? dir), ["race", "t", a, "15", String(1000 + i), "--wait"], T.s.env, "coord-worker.mjs"));
    running.push(...ws);
    await release(ws);
    await runAll(ws);
    const results = ws.map((w) => JSON.parse(w.lines.find((l) => l.startsWith("result "))!.slice(7)) as { got: number; refused: number });
    const got = results.reduce((n, r) => n + r.got, 0);
    const refused = results.reduce((n, r) => n + r.refused, 0);
    expect(got + refused).toBe(20 * 15);
    // Real contention: both outcomes happened many times.
    expect(got).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
    const events = await readEvents(T.as(), "t");
    const added = events.filter((e) => e.kind === "reservation.added").length;
    expect(added).toBe(got);
    expect(events.filter((e) => e.kind === "reservation.released").length).toBe(got);
    expect(conflictsInHistory(events)).toEqual([]);
    expect(await listReservations(T.as(), "t")).toEqual([]);
  }, 240_000);

  it("a holder killed with SIGKILL loses its reservation within the lease, not before; the lead is told", async () => {
    const lease = 2000;
    T = await team(kind, "t", ["holder", "other"], { realClock: true, leaseMs: lease });
    const env = { ...T.s.env, CLANKER_TEAMS_LEASE_MS: String(lease), CLANKER_TEAMS_HOST: "another-host" };
    const w = startWorker(String(T.s.env.CLANKER_TEAMS_DIR ?? tempDir()), ["hold", "t", "holder", "src/**", "200"], env, "coord-worker.mjs");
    running.push(w);
    await w.waitFor(/^held$/, 60_000);
    const lead = T.as();
    const other = () => reserveFiles(T.as("other"), "t", { paths: ["src/x.ts"] }, T.where);
    // Alive (heartbeating) for more than a lease, with the lead sweeping: never evicted.
    const end = Date.now() + 2.5 * lease;
    while (Date.now() < end) {
      await recoverAbandoned(lead, "t");
      await expect(other()).rejects.toThrow(/reserved exclusively by holder \("held by a process"\)/);
      await sleep(150);
    }
    w.child.kill("SIGKILL");
    const killed = Date.now();
    await w.done;
    let gone = 0;
    for (;;) {
      await recoverAbandoned(lead, "t");
      if (!(await listReservations(lead, "t")).length) { gone = Date.now(); break; }
      if (Date.now() - killed > 4 * lease) throw new Error("not released within 4 leases");
      await sleep(50);
    }
    const after = gone - killed;
    // Its last heartbeat was at most 200 ms before the kill: released about a lease after it, with sweep and load slack.
    expect(after).toBeGreaterThan(lease - 400);
    expect(after).toBeLessThan(lease + 1500);
    await other();
    const msg = (await readInbox(lead, "t")).messages.find((m) => m.kind === "reservations_released");
    expect(msg?.content).toMatch(/^The file reservations of holder were released: src\/\*\*\. holder is dead \(no heartbeat on another-host for \d+ s\)\.$/);
    expect((await readEvents(lead, "t")).filter((e) => e.kind === "reservation.recovered").map((e) => e.data.holder)).toEqual(["holder"]);
  }, 120_000);
});
