/**
 * Latency scenarios: reading one new message sent by another process (with
 * 100 and 1,000 messages of history), sends and empty inbox checks with
 * 10,000 messages of history, and an idle waiter woken by a send from
 * another process on another "host" (the store's change notification:
 * fs.watch on the log for JSON, LISTEN/NOTIFY for PostgreSQL).
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { readHistory, sendMessage, unreadPeek } from "../src/index.js";
import { checkEvents, checkMessages, type SentMessage } from "./verify.js";
import { TEAM, hostEnv, makeTeam, uncontended, whereLabel, withStore } from "./common.js";
import { freshDir, type StoreKind } from "./stores.js";
import { closeAll, roundStats, sleep, startWorkers, stats, type Check, type FromWorker, type Metric, type RepeatResult, type Target } from "./util.js";

/** Another process sends 1 message; the reader (its own process) reads its inbox: p50 at 100 and 1,000 messages of history. */
export async function readOneScenario(kind: StoreKind, quick: boolean, x: Target): Promise<RepeatResult> {
  return withStore(kind, "read1", async (s) => {
    const sender = s.ctx("w1");
    await makeTeam(s.ctx("team-lead"), TEAM, ["w1", "r1"]);
    const prims = { write: await uncontended(s, quick) };
    const [reader] = await startWorkers([{ role: "reader", store: s.ref, args: { team: TEAM, name: "r1" } }]);
    const n = quick ? 30 : 100;
    const checks: Check[] = [];
    const out: Record<number, number[]> = {};
    const sent: SentMessage[] = [];
    let total = 0;
    const wrong: string[] = [];
    try {
      for (const history of [100, 1000]) {
        // Fill the history up to `history` read messages (as the reader reads them).
        const have = (await readHistory(sender, TEAM, "r1", { limit: 1 })).total;
        for (let i = have; i < history; i++) {
          const m = await sendMessage(sender, TEAM, { recipient: "r1", content: `history ${i}: ${"lorem ipsum ".repeat(8)}`, summary: `history ${i}` });
          sent.push({ id: m.id, from: "w1", to: "r1", content: m.content, summary: m.summary });
          if (i % 250 === 249) await reader.run("read");
        }
        await reader.run("read");
        total = Math.max(total, history);
        const lat: number[] = [];
        for (let i = 0; i < n + 5; i++) {
          const content = `one new message ${history}/${i} ${randomBytes(4).toString("hex")}`;
          const m = await sendMessage(sender, TEAM, { recipient: "r1", content, summary: "new" });
          sent.push({ id: m.id, from: "w1", to: "r1", content, summary: "new" });
          const r = (await reader.run("read")).result as { ms: number; msgs: { id: string; content: string }[] };
          if (r.msgs.length !== 1 || r.msgs[0].content !== content) wrong.push(`got ${r.msgs.length} messages`);
          if (i >= 5) lat.push(r.ms);
        }
        out[history] = lat;
      }
    } finally {
      await closeAll([reader]);
    }
    checks.push({ name: "each read returns exactly the one new message, its full text", ok: !wrong.length, detail: wrong.length ? wrong.slice(0, 3).join("; ") : `${2 * (n + 5)} reads` });
    const hist = await readHistory(sender, TEAM, "r1", { limit: 100_000 });
    checks.push(...checkMessages(hist.messages, sent, "history"));
    checks.push({ name: "nothing left unread", ok: (await unreadPeek(sender, TEAM, "r1")).length === 0 });
    checks.push((await checkEvents(sender, TEAM)).check);
    const s100 = stats(out[100]);
    const s1000 = stats(out[1000]);
    return {
      metrics: [
        { name: "read 1 new, 100 in history, p50", value: s100.p50, unit: "ms", vs: { prim: "write", kind: "x", target: x } },
        { name: "read 1 new, 1,000 in history, p50", value: s1000.p50, unit: "ms", vs: { prim: "write", kind: "x", target: x } },
        { name: "read 1 new, 1,000 in history, p99", value: s1000.p99, unit: "ms" },
      ],
      prims,
      checks,
      details: { n, at100: roundStats(s100), at1000: roundStats(s1000), where: whereLabel(kind) },
    };
  });
}

/** Sends and empty inbox checks with `history` messages of history (one process, as before). */
export async function historyScenario(kind: StoreKind, quick: boolean, t: { send: Target; empty: Target }): Promise<RepeatResult> {
  return withStore(kind, "history", async (s) => {
    const lead = s.ctx("team-lead");
    await makeTeam(lead, TEAM, ["w1"]);
    const history = quick ? 2000 : 10_000;
    const samples = quick ? 100 : 300;
    const prims = { write: await uncontended(s, quick) };
    const [w] = await startWorkers([{ role: "history", store: s.ref, args: { team: TEAM, sender: "team-lead", reader: "w1", history } }]);
    let r: { buildMs: number; send: number[]; empty: number[]; drained: number; emptyUnread: number };
    try {
      r = (await w.run("main", { samples })).result as typeof r;
    } finally {
      await closeAll([w]);
    }
    const checks: Check[] = [];
    const probes = samples + 10;
    checks.push({ name: "every probe send arrived and was read", ok: r.drained === probes && r.emptyUnread === 0, detail: `${r.drained} of ${probes}` });
    const total = (await readHistory(lead, TEAM, "w1", { limit: 1 })).total;
    checks.push({ name: `history holds all ${history + probes} messages (archive + inbox)`, ok: total === history + probes, detail: `total ${total}` });
    checks.push((await checkEvents(lead, TEAM)).check);
    const ss = stats(r.send);
    const es = stats(r.empty);
    return {
      metrics: [
        { name: `send p50 (${history.toLocaleString("en")} in history)`, value: ss.p50, unit: "ms", target: t.send, vs: { prim: "write", kind: "x" } },
        { name: "send p99", value: ss.p99, unit: "ms" },
        { name: "empty inbox check p50", value: es.p50, unit: "ms", target: t.empty },
        { name: "empty inbox check p99", value: es.p99, unit: "ms" },
      ],
      prims,
      checks,
      details: { history, samples, buildMs: r.buildMs, send: roundStats(ss), empty: roundStats(es), where: whereLabel(kind) },
    };
  });
}

/** An idle waiter (its own process and "host") woken by sends from another process: send call → waiter has read it. */
export async function wakeScenario(kind: StoreKind, quick: boolean, p99: Target): Promise<RepeatResult> {
  return withStore(kind, "wake", async (s) => {
    const lead = s.ctx("team-lead");
    await makeTeam(lead, TEAM, ["sender", "waiter", "sink"]);
    const prims = { write: await uncontended(s, quick) };
    const scratch = freshDir("json", "wake-hosts");
    const n = quick ? 20 : 50;
    const nonce = randomBytes(3).toString("hex");
    const workers = await startWorkers([
      { role: "waiter", store: s.ref, args: { team: TEAM, name: "waiter" }, env: hostEnv(s, "bench-host-a", scratch) },
      { role: "sender", store: s.ref, args: { team: TEAM, name: "sender", warmupTo: "sink" }, env: hostEnv(s, "bench-host-b", scratch) },
    ]);
    const [waiter, sender] = workers;
    const got: { content: string; id: string; at: number; summary: string; from: string }[] = [];
    let wake: (() => void) | undefined;
    const off = waiter.onMessage((m: FromWorker) => {
      if (m.type === "event" && m.name === "msg") {
        got.push({ ...(m.data as { content: string; id: string; summary: string; from: string }), at: m.at });
        wake?.();
      }
    });
    const arrived = async (content: string, ms: number) => {
      const end = Date.now() + ms;
      for (;;) {
        const hit = got.find((g) => g.content === content);
        if (hit) return hit;
        if (Date.now() > end) return undefined;
        await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      }
    };
    const lat: number[] = [];
    const sent: SentMessage[] = [];
    const lost: string[] = [];
    try {
      // Warm-up: the waiter's watch is armed once one message has reached it.
      for (let i = 0; ; i++) {
        const content = `warm-up ${nonce} ${i}`;
        const r = (await sender.run("send", { to: "waiter", content, summary: "warm-up" })).result as { id: string };
        sent.push({ id: r.id, from: "sender", to: "waiter", content, summary: "warm-up" });
        if (await arrived(content, 3000)) break;
        if (i >= 5) throw new Error("the waiter was never woken by the warm-up sends");
      }
      for (let i = 0; i < n; i++) {
        const content = `WAKE-${i} ${nonce}\nsecond line ${"x".repeat(i % 7)}`;
        const r = (await sender.run("send", { to: "waiter", content, summary: `wake ${i}` })).result as { t0: number; id: string };
        sent.push({ id: r.id, from: "sender", to: "waiter", content, summary: `wake ${i}` });
        const hit = await arrived(content, 10_000);
        if (!hit) lost.push(`WAKE-${i}`);
        else lat.push(hit.at - r.t0);
        await sleep(20);
      }
      await sleep(300);
    } finally {
      off();
      await closeAll(workers);
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    const checks: Check[] = [{ name: `each of ${n} sends woke the waiter within 10 s`, ok: !lost.length, detail: lost.length ? `not woken: ${lost.slice(0, 5).join(", ")}` : `${n}` }];
    checks.push(...checkMessages(got.map((g) => ({ ...g, to: "waiter", timestamp: "", read: true })), sent, "waiter received"));
    checks.push({ name: "nothing left unread", ok: (await unreadPeek(lead, TEAM, "waiter")).length === 0 });
    checks.push((await checkEvents(lead, TEAM)).check);
    const st = stats(lat);
    return {
      metrics: [
        { name: "send → waiter has read it, p50", value: st.p50, unit: "ms", vs: { prim: "write", kind: "x" } },
        { name: "send → waiter has read it, p99", value: st.p99, unit: "ms", target: p99 },
        { name: "max", value: st.max, unit: "ms" },
      ],
      prims,
      checks,
      details: { n, latency: roundStats(st), samples: lat.map((v) => Math.round(v * 100) / 100), where: whereLabel(kind) },
    };
  });
}

