/**
 * Stuck teammates on both stores (injected clock, presence as the extension
 * writes it): alive + idle + owner of an in_progress task past the threshold
 * → nudged once with the task; still idle as long again → the lead is told
 * once; nothing for busy, dead or idle-without-work teammates; a finished
 * task ends the episode; two sweeping processes nudge once.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { STUCK_AFTER_MS, sweepStuck } from "../../src/domain/stuck.js";
import { unreadPeek } from "../../src/domain/messages.js";
import { writePresence } from "../../src/domain/presence.js";
import { claimTask, createTask, updateTask } from "../../src/domain/tasks.js";
import { updateTeam } from "../../src/domain/teams.js";
import { readEvents } from "../../src/domain/events.js";
import { makeCtx } from "../../src/context.js";
import { cleanupTemp } from "../helpers/fixtures.js";
import { KINDS, settle } from "../contract/stores.js";
import { team, type Team } from "../coord/helpers.js";

afterAll(async () => { await settle(); cleanupTemp(); });

describe.each(KINDS)("stuck teammates on the %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });
  const iso = () => new Date(T.clock.now).toISOString();
  /** What the extension's heartbeat writes: this process's pid (alive), state, idleSince. */
  const beat = (who: string, state: "idle" | "busy", idleSince: string | null) => writePresence(T.as(who), "t", who, { state, idleSince, startedAt: iso() });
  const mail = async (to: string) => (await unreadPeek(T.as(), "t", to)).filter((m) => m.kind === "stuck_nudge" || m.kind === "teammate_stuck");
  /** Time passes with heartbeats (the presence stays fresh, as a live agent's does). */
  const pass = async (ms: number, who: Record<string, ["idle" | "busy", string | null]>) => {
    T.clock.advance(ms);
    for (const [w, [st, since]] of Object.entries(who)) await beat(w, st, since);
  };

  it("nudges once with the task after the default 3 minutes, tells the lead once if it stays idle, then says nothing more", async () => {
    T = await team(kind, "t", ["alice"]);
    const task = await createTask(T.as(), "t", { subject: "Port the parser", description: "PARSER-SPEC: keep the old API" });
    await claimTask(T.as("alice"), "t", task.id);
    const idle = iso();
    await beat("alice", "idle", idle);
    await pass(STUCK_AFTER_MS - 1000, { alice: ["idle", idle] });
    expect(await sweepStuck(T.as(), "t")).toEqual([]);
    await pass(2000, { alice: ["idle", idle] });
    expect(await sweepStuck(T.as(), "t")).toMatchObject([{ agent: "alice", task: task.id, action: "nudged" }]);
    const nudge = await mail("alice");
    expect(nudge).toHaveLength(1);
    expect(nudge[0]!.content).toMatch(/^You have been idle for 3 min, but task #1 "Port the parser" is yours and in_progress:\nPARSER-SPEC: keep the old API\n\nContinue it now\./);
    expect(await sweepStuck(T.as(), "t")).toEqual([]); // once
    // it woke up, worked a little, and went idle again without finishing
    await pass(5000, { alice: ["busy", null] });
    const again = iso();
    await pass(1000, { alice: ["idle", again] });
    await pass(STUCK_AFTER_MS - 2000, { alice: ["idle", again] });
    expect(await sweepStuck(T.as(), "t")).toEqual([]);
    await pass(2000, { alice: ["idle", again] });
    expect(await sweepStuck(T.as(), "t")).toMatchObject([{ agent: "alice", task: task.id, action: "lead_told" }]);
    const told = await mail("team-lead");
    expect(told).toHaveLength(1);
    expect(told[0]!.content).toMatch(/^alice is alive but has been idle for 3 min while it owns task #1 "Port the parser" \(in_progress\), even after a nudge at /);
    await pass(10 * STUCK_AFTER_MS, { alice: ["idle", again] });
    expect(await sweepStuck(T.as(), "t")).toEqual([]);
    expect(await mail("alice")).toHaveLength(1);
    expect(await mail("team-lead")).toHaveLength(1);
    const kinds = (await readEvents(T.as(), "t")).map((e) => e.kind);
    expect(kinds.filter((k) => k === "teammate.nudged")).toHaveLength(1);
    expect(kinds.filter((k) => k === "teammate.stuck")).toHaveLength(1);
  });

  it("no pings for a busy teammate, one idle without work, a dead one, or one idle for less than the team's threshold; a finished task ends the episode", async () => {
    T = await team(kind, "t", ["busy", "free", "ghost", "alice"]);
    await updateTeam(T.as(), "t", (c) => { c.stuckAfterMs = 20_000; return { value: undefined, write: true }; });
    for (const who of ["busy", "ghost", "alice"]) {
      const t = await createTask(T.as(), "t", { subject: `work of ${who}`, description: "" });
      await claimTask(T.as(who), "t", t.id);
    }
    const since = iso();
    await writePresence(T.as("ghost"), "t", "ghost", { pid: 2 ** 22 + 17, state: "idle", idleSince: since, startedAt: since }); // no such process
    await pass(60_000, { busy: ["busy", null], free: ["idle", since], alice: ["idle", since] });
    const acted = await sweepStuck(T.as(), "t");
    expect(acted.map((a) => `${a.agent}:${a.action}`)).toEqual(["alice:nudged"]);
    for (const who of ["busy", "free", "ghost"]) expect(await mail(who), who).toEqual([]);
    // alice finishes: the episode is over; a new task later gets its own nudge
    await updateTask(T.as("alice"), "t", "3", { status: "completed" });
    await sweepStuck(T.as(), "t");
    const next = await createTask(T.as(), "t", { subject: "next job", description: "" });
    await claimTask(T.as("alice"), "t", next.id);
    const idle2 = iso();
    await pass(30_000, { alice: ["idle", idle2] });
    expect((await sweepStuck(T.as(), "t")).map((a) => `${a.agent}:${a.task}:${a.action}`)).toEqual([`alice:${next.id}:nudged`]);
  });

  it("two lead processes sweeping at once nudge once", async () => {
    T = await team(kind, "t", ["alice"]);
    const task = await createTask(T.as(), "t", { subject: "x", description: "" });
    await claimTask(T.as("alice"), "t", task.id);
    const since = iso();
    await pass(STUCK_AFTER_MS + 1000, { alice: ["idle", since] });
    const other = makeCtx({ store: T.s.open({ now: () => T.clock.now }), actor: "team-lead", cwd: "/repo", env: process.env });
    const r = await Promise.all([sweepStuck(T.as(), "t"), sweepStuck(other, "t"), sweepStuck(T.as(), "t")]);
    expect(r.flat().filter((a) => a.action === "nudged")).toHaveLength(1);
    expect(await mail("alice")).toHaveLength(1);
  });
});
