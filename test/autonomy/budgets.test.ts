/**
 * Budgets on both stores: a teammate's usage is counted per model call, the
 * teammate and the lead are warned once at 80 %, the stop at 100 % is decided
 * once (even when two processes record at the same instant), the team budget
 * covers all teammates (not the lead), a respawn starts a new account, a
 * raised budget re-arms, and the state is in the store for any process.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { budgetStopReason, checkBudget, fmtUsage, recordUsage, setBudget, usageOfMessage, usageReport } from "../../src/domain/budgets.js";
import { readEvents } from "../../src/domain/events.js";
import { unreadPeek } from "../../src/domain/messages.js";
import { addMember, updateTeam } from "../../src/domain/teams.js";
import { makeCtx } from "../../src/context.js";
import { cleanupTemp } from "../helpers/fixtures.js";
import { KINDS, failure, settle } from "../contract/stores.js";
import { team, type Team } from "../coord/helpers.js";

afterAll(async () => { await settle(); cleanupTemp(); });

describe("usage of a pi assistant message", () => {
  it("reads totalTokens and cost.total (pi 0.55 and 0.73 report the same shape), else the sum of the parts; none without usage", () => {
    const usage = { input: 100, output: 20, cacheRead: 300, cacheWrite: 5, totalTokens: 425, cost: { input: 0.001, output: 0.002, cacheRead: 0, cacheWrite: 0, total: 0.003 } };
    expect(usageOfMessage({ role: "assistant", usage })).toEqual({ tokens: 425, costUsd: 0.003 });
    expect(usageOfMessage({ role: "assistant", usage: { ...usage, totalTokens: 0 } })).toEqual({ tokens: 425, costUsd: 0.003 });
    expect(usageOfMessage({ role: "assistant" })).toBeUndefined();
    expect(usageOfMessage({ role: "assistant", usage: { input: -5, output: Number.NaN } })).toEqual({ tokens: 0, costUsd: 0 });
  });

  it("a budget given by a caller names the bad field", () => {
    expect(checkBudget("budget", { tokens: 10 })).toEqual({ tokens: 10 });
    expect(() => checkBudget("budget", {})).toThrow(/^budget: give tokens or cost_usd/);
    expect(() => checkBudget("budget", { tokens: -1 })).toThrow(/^budget\.tokens: must be a positive number/);
    expect(() => checkBudget("budget", { tokns: 5 })).toThrow(/^budget: unknown key "tokns"/);
    expect(fmtUsage({ tokens: 1500, costUsd: 0.25 }, { tokens: 2000 })).toBe("1,500 tokens, $0.2500 (75 % of 2,000 tokens)");
  });
});

describe.each(KINDS)("budgets on the %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });
  const kindsOf = async (t: string) => (await readEvents(T.as(), t)).map((e) => e.kind);
  const mail = async (to: string) => (await unreadPeek(T.as(), "t", to)).map((m) => `${m.from}:${m.kind}:${m.summary}`);

  it("a teammate's budget: warned once at 80 % (teammate and lead), stopped once at 100 % (lead told), then nothing more", async () => {
    T = await team(kind, "t", []);
    await addMember(T.as(), "t", { name: "alice", role: "teammate", budget: { tokens: 1000 } });
    const alice = T.as("alice");
    const rec = (tokens: number) => recordUsage(alice, "t", "alice", { tokens, costUsd: tokens / 1000 });
    expect((await rec(500)).alarms).toEqual([]);
    expect(await budgetStopReason(alice, "t", "alice")).toBeUndefined();
    const warn = await rec(300);
    expect(warn.alarms).toMatchObject([{ scope: "member", level: "warn", agent: "alice" }]);
    expect(warn.member).toMatchObject({ tokens: 800, calls: 2 });
    expect((await rec(100)).alarms).toEqual([]); // warned once
    expect(await mail("alice")).toEqual(["clanker-teams:budget_warning:Budget 80 % used"]);
    expect(await mail("team-lead")).toEqual(["clanker-teams:budget_warning:alice: budget 80 % used"]);
    const stop = await rec(200);
    expect(stop.alarms).toMatchObject([{ scope: "member", level: "stop" }]);
    expect((await rec(50)).alarms).toEqual([]); // stopped once
    expect(await budgetStopReason(alice, "t", "alice")).toMatch(/^its budget is used up \(1,150 tokens, \$1\.1500 \(115 % of 1,000 tokens\)\)$/);
    const lead = await unreadPeek(T.as(), "t", "team-lead");
    expect(lead.map((m) => m.kind)).toEqual(["budget_warning", "budget_exhausted"]);
    expect(lead[1]!.content).toMatch(/alice has used 1,100 tokens.*it stops after its current turn, and its unfinished tasks go back to pending\. Raise it with `clanker-teams budget t --agent alice --tokens N`/);
    const k = await kindsOf("t");
    expect(k.filter((x) => x === "budget.warned")).toHaveLength(1);
    expect(k.filter((x) => x === "budget.exhausted")).toHaveLength(1);
    // another process (a restart) sees the same state
    const other = makeCtx({ store: T.s.open(), actor: "alice", cwd: "/repo", env: { ...process.env, CLANKER_AGENT_NAME: "" } });
    expect(await budgetStopReason(other, "t", "alice")).toMatch(/^its budget is used up/);
    expect((await usageReport(other, "t")).members.find((m) => m.agent === "alice")).toMatchObject({ used: { tokens: 1150, calls: 5 }, limit: { tokens: 1000 } });
  });

  it("the team budget counts every teammate but not the lead; at 100 % every teammate must stop; ", async () => {
    T = await team(kind, "t", ["alice", "bob"]);
    await updateTeam(T.as(), "t", (c) => { c.budget = { cost_usd: 1 }; return { value: undefined, write: true }; });
    const rec = (who: string, costUsd: number) => recordUsage(T.as(who), "t", who, { tokens: 10, costUsd });
    await rec("team-lead", 5); // the lead's own usage: shown, never counted against the team
    expect((await rec("alice", 0.5)).alarms).toEqual([]);
    const warn = await rec("bob", 0.35);
    expect(warn.alarms).toMatchObject([{ scope: "team", level: "warn" }]);
    expect(warn.team).toMatchObject({ costUsd: 0.85, calls: 2 });
    for (const who of ["team-lead", "alice", "bob"]) expect(await mail(who), who).toContain("clanker-teams:budget_warning:Team budget 85 % used");
    expect(await budgetStopReason(T.as("bob"), "t", "bob")).toBeUndefined();
    expect((await rec("alice", 0.2)).alarms).toMatchObject([{ scope: "team", level: "stop" }]);
    for (const who of ["alice", "bob"]) expect(await budgetStopReason(T.as(who), "t", who), who).toMatch(/^the team budget is used up \(30 tokens, \$1\.0500 \(105 % of \$1\)\)$/);
    expect(await budgetStopReason(T.as(), "t", "team-lead")).toBeUndefined();
    const r = await usageReport(T.as(), "t");
    expect(r.team.used).toMatchObject({ tokens: 30, costUsd: 1.05, calls: 3 });
    expect(r.members.find((m) => m.agent === "team-lead")!.used).toMatchObject({ costUsd: 5, calls: 1 });
  });

  it("two processes crossing 80 % and 100 % at the same moment: one warning, one stop", async () => {
    T = await team(kind, "t", []);
    await addMember(T.as(), "t", { name: "alice", role: "teammate", budget: { tokens: 100 } });
    const a = makeCtx({ store: T.s.store, actor: "alice", cwd: "/repo", env: process.env });
    const b = makeCtx({ store: T.s.open(), actor: "alice", cwd: "/repo", env: process.env });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => recordUsage(i % 2 ? a : b, "t", "alice", { tokens: 10, costUsd: 0 })));
    const alarms = results.flatMap((r) => r.alarms.map((x) => x.level));
    expect(alarms.sort()).toEqual(["stop", "warn"]);
    expect((await usageReport(T.as(), "t")).members.find((m) => m.agent === "alice")!.used).toMatchObject({ tokens: 120, calls: 12 });
  });

  it("a respawn (new member of the name) starts a new account; a raised budget re-arms the warning and stop; only the lead sets budgets", async () => {
    T = await team(kind, "t", []);
    await addMember(T.as(), "t", { name: "alice", role: "teammate", agentId: "first", budget: { tokens: 100 } });
    await recordUsage(T.as("alice"), "t", "alice", { tokens: 150, costUsd: 0 });
    expect(await budgetStopReason(T.as("alice"), "t", "alice")).toMatch(/used up/);
    // raised: no longer stopped; the next crossing warns (and stops) again
    await setBudget(T.as(), "t", "alice", { tokens: 1000 });
    expect(await budgetStopReason(T.as("alice"), "t", "alice")).toBeUndefined();
    expect((await recordUsage(T.as("alice"), "t", "alice", { tokens: 700, costUsd: 0 })).alarms).toMatchObject([{ level: "warn" }]);
    expect((await failure(setBudget(T.as("alice"), "t", "alice", { tokens: 1e9 }))).code).toBe("FORBIDDEN");
    expect((await failure(setBudget(T.as(), "t", "team-lead", { tokens: 5 }))).message).toMatch(/^agent: the lead has no budget/);
    // the same name spawned again: a new member, a new account
    await addMember(T.as(), "t", { name: "alice", role: "teammate", agentId: "second", budget: { tokens: 100 } }, { replace: "first" });
    const fresh = await recordUsage(T.as("alice"), "t", "alice", { tokens: 10, costUsd: 0 });
    expect(fresh.member).toMatchObject({ tokens: 10, calls: 1, agentId: "second" });
    expect(fresh.alarms).toEqual([]);
  });
});
