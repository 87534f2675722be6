/**
 * The benchmark's own correctness: its checks catch lost, doubled and altered
 * data and gaps in events, and the runner prints each primitive with the
 * ratio, writes results.json and exits 1 when a check fails.
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { appendEvent, sendMessage, type Ctx, type Message, type TeamEvent } from "../../src/index.js";
import { checkEvents, checkMessages, taskDiff } from "../../bench/verify.js";
import { ROOT, cleanupTemp, teamWith, tempDir, world } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

const msg = (id: string, content: string): Message => ({ id, from: "w1", to: "team-lead", content, summary: "s", timestamp: new Date(0).toISOString(), read: false });
const sentOf = (m: Message) => ({ id: m.id, from: m.from, to: m.to, content: m.content, summary: m.summary });

describe("bench checks", () => {
  it("checkMessages passes the exact set and fails a lost, a doubled, an altered and an unexpected message", () => {
    const got = [msg("a", "one"), msg("b", "two"), msg("c", "three")];
    const sent = got.map(sentOf);
    expect(checkMessages(got, sent, "x").every((c) => c.ok)).toBe(true);
    expect(checkMessages(got.slice(1), sent, "x")[0].ok).toBe(false);
    expect(checkMessages([...got, got[0]], sent, "x")[0].ok).toBe(false);
    expect(checkMessages([msg("a", "one"), msg("b", "TWO"), msg("c", "three")], sent, "x")[1].ok).toBe(false);
    expect(checkMessages([...got, msg("d", "four")], sent, "x")[0].ok).toBe(false);
  });

  it("checkEvents passes a real team's log and fails a gap or a repeat", async () => {
    const w = world();
    await teamWith(w, "t", ["w1"]);
    const lead = w.as();
    await sendMessage(w.as("w1"), "t", { recipient: "team-lead", content: "hi", summary: "hi" });
    await appendEvent(lead, "t", "bench.test", {});
    const real = await checkEvents(lead, "t");
    expect(real.check.ok).toBe(true);
    expect(real.events.length).toBeGreaterThan(2);
    const fake = (seqs: number[]) => ({ store: { readEvents: async () => seqs.map((seq) => ({ seq } as TeamEvent)) } }) as unknown as Ctx;
    expect((await checkEvents(fake([1, 2, 4]), "t")).check.ok).toBe(false);
    expect((await checkEvents(fake([1, 2, 2, 3]), "t")).check.ok).toBe(false);
    expect((await checkEvents(fake([]), "t")).check.ok).toBe(false);
  });

  it("taskDiff names each field that differs", () => {
    const t = { id: "1", subject: "s", description: "d", status: "in_progress", owner: "w1", activeForm: "a", blocks: [], blockedBy: [], createdAt: "", updatedAt: "" } as never;
    expect(taskDiff(t, { id: "1", subject: "s", description: "d", status: "in_progress", owner: "w1", activeForm: "a" })).toEqual([]);
    expect(taskDiff(t, { id: "1", subject: "s", description: "d", status: "completed", owner: "w2", activeForm: "a" })).toEqual(["status in_progress≠completed", "owner w1≠w2", "completedAt missing"]);
    expect(taskDiff(undefined, { id: "1", subject: "s", description: "d", status: "pending" })).toEqual(["missing"]);
  });
});

describe("bench runner", { timeout: 180_000 }, () => {
  const run = (out: string, env: Record<string, string> = {}) =>
    execa(process.execPath, [path.join(ROOT, "dist", "bench", "run.js"), "--quick", "--only", "json.send-1", "--out", out], { reject: false, env: { ...process.env, ...env }, cwd: ROOT });

  it("prints the primitive next to the scenario with the ratio, writes results.json, exits 0", async () => {
    const out = path.join(tempDir("clanker-bench-"), "r.json");
    const r = await run(out);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/primitive write +[\d.]+ ms .*O_APPEND write \+ fdatasync/);
    expect(r.stdout).toMatch(/send p50 +[\d.]+ ms .*[\d.]+× write/);
    const res = JSON.parse(fs.readFileSync(out, "utf8"));
    const s = res.results.find((x: { name: string }) => x.name === "json.send-1");
    expect(s.prims.write.value).toBeGreaterThan(0);
    const p50 = s.metrics.find((m: { name: string }) => m.name === "send p50");
    expect(p50.ratio.value).toBeCloseTo(p50.value / s.prims.write.value, 1);
    expect(s.checks.length).toBeGreaterThan(3);
    expect(s.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    expect(res.summary.failedChecks).toEqual([]);
  });

  it("exits 1 and names the check when a message is lost", async () => {
    const out = path.join(tempDir("clanker-bench-"), "r.json");
    const r = await run(out, { CLANKER_BENCH_FAULT: "drop-message" });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}inbox: every one of 100 messages exactly once/);
    expect(JSON.parse(fs.readFileSync(out, "utf8")).summary.failedChecks.length).toBeGreaterThan(0);
  });
});
