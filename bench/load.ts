/**
 * Load scenarios with N real processes behind a start barrier: sends to one
 * inbox, task creates + updates, claims from one work queue. Each repeat
 * measures the store's primitive uncontended (in this process) and contended
 * (in the scenario's own worker processes, right before the scenario).
 */
import { createTask, unreadPeek, readHistory } from "../src/index.js";
import { checkEvents, checkJsonFiles, checkMessages, taskDiff, type ExpectedTask, type SentMessage } from "./verify.js";
import { TEAM, contendedPrims, contendedSetup, makeTeam, opsPerS, uncontended, whereLabel, withStore } from "./common.js";
import type { BenchStore, StoreKind } from "./stores.js";
import type { Worker, WorkerSpec } from "./util.js";
import { closeAll, phaseAll, roundStats, startWorkers, stats, type Check, type Done, type Metric, type Prim, type RepeatResult, type Target } from "./util.js";

export interface LoadTargets {
  throughput?: Target;
  throughputRef?: string;
  p50x?: Target;
  p99?: Target;
  updateP50?: Target;
  createP99?: Target;
  claimP99?: Target;
}

/** fdatasync calls (JSON) or statements (PostgreSQL) per operation, over every process of the phase. */
function ioMetric(kind: StoreKind, done: Done[], ops: number): Metric {
  return { name: kind === "pg" ? "statements per op" : "fdatasync per op", value: done.reduce((a, d) => a + d.io, 0) / ops, unit: "/op" };
}

/** JSON: the store's own fdatasync calls, p50, next to the primitive's p50 (is the wait the disk, or the rest of the operation?). */
function syncMetrics(kind: StoreKind, done: Done[], prim: string, opP50?: number): Metric[] {
  if (kind === "pg") return [];
  const sync = stats(done.flatMap((d) => d.ioLat)).p50;
  const out: Metric[] = [{ name: "the store's own fdatasync, p50", value: sync, unit: "ms", vs: { prim, kind: "x" } }];
  // One process: what the operation adds to its durable write (the CPU path), robust to a disk whose speed drifts.
  if (opP50 !== undefined) out.push({ name: "op p50 − own fdatasync p50", value: opP50 - sync, unit: "ms" });
  return out;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `w${i + 1}`);

/** Primitive figures for a repeat: "write" always, "write×N" when N > 1 (from the workers' prim phase). */
async function runWithPrims(kind: StoreKind, s: BenchStore, procs: number, quick: boolean, specs: (prim: Record<string, unknown>) => WorkerSpec[], main: (w: Worker[]) => Promise<Done[]>) {
  const prims: Record<string, Prim> = { write: await uncontended(s, quick) };
  const cont = await contendedSetup(s);
  const workers = await startWorkers(specs(cont.prim));
  let done;
  try {
    if (procs > 1) Object.assign(prims, contendedPrims(await phaseAll(workers, "prim", () => ({ count: quick ? 20 : 50 })), kind, procs));
    done = await main(workers);
  } finally {
    await closeAll(workers);
    cont.cleanup();
  }
  return { prims, done };
}

/** `procs` processes × `per` sends to the lead's inbox. */
export async function sendsScenario(kind: StoreKind, procs: number, per: number, quick: boolean, t: LoadTargets): Promise<RepeatResult> {
  return withStore(kind, `sends${procs}`, async (s) => {
    const lead = s.ctx("team-lead");
    const ws = names(procs);
    await makeTeam(lead, TEAM, [...ws, "sink"]);
    const { prims, done } = await runWithPrims(kind, s, procs, quick,
      (prim) => ws.map((name) => ({ role: "sends", store: s.ref, args: { team: TEAM, name, to: "team-lead", warmupTo: "sink", prim } })),
      (w) => phaseAll(w, "main", () => ({ count: per })));
    const results = done.map((d) => d.result as { lat: number[]; sent: { id: string; content: string; summary: string }[] });
    const total = procs * per;
    const st = stats(results.flatMap((r) => r.lat));
    const cpu = done.reduce((a, d) => a + d.cpuMs, 0) / total;

    const sent: SentMessage[] = results.flatMap((r, i) => r.sent.map((m) => ({ ...m, from: ws[i], to: "team-lead" })));
    const checks: Check[] = [];
    const got = await unreadPeek(lead, TEAM, "team-lead");
    checks.push(...checkMessages(got, sent, "inbox"));
    const hist = await readHistory(lead, TEAM, "team-lead", { limit: 1 });
    checks.push({ name: "history holds them all", ok: hist.total === total, detail: `history total ${hist.total}` });
    const ev = await checkEvents(lead, TEAM);
    checks.push(ev.check);
    const sentIds = new Set(sent.map((m) => m.id));
    const sentEv = ev.events.filter((e) => e.kind === "message.sent" && e.data.to === "team-lead");
    const evIds = new Set(sentEv.map((e) => String(e.data.id)));
    checks.push({ name: "one message.sent event per send, naming it", ok: sentEv.length === total && [...sentIds].every((id) => evIds.has(id)), detail: `${sentEv.length} events` });
    if (kind !== "pg") checks.push(await checkJsonFiles(s.ref.dataDir!, TEAM, lead, { inboxes: ["team-lead"], events: ev.events.length }));

    const metrics: Metric[] = procs === 1
      ? [
          { name: "send p50", value: st.p50, unit: "ms", vs: { prim: "write", kind: "x", target: t.p50x } },
          { name: "send p99", value: st.p99, unit: "ms" },
          { name: "throughput", value: opsPerS(total, done), unit: "sends/s", target: t.throughput },
        ]
      : [
          { name: "throughput", value: opsPerS(total, done), unit: "sends/s", target: t.throughput, targetRef: t.throughputRef ? { op: ">=", ref: t.throughputRef } : undefined, vs: { prim: `write×${procs}`, kind: "share" } },
          { name: "send p50", value: st.p50, unit: "ms", vs: { prim: `write×${procs} p50`, kind: "x" } },
          { name: "send p99", value: st.p99, unit: "ms", target: t.p99 },
        ];
    metrics.push({ name: "CPU per send (all processes)", value: cpu, unit: "ms" });
    metrics.push({ name: "  of which in the kernel", value: done.reduce((a, d) => a + d.sysMs, 0) / total, unit: "ms" });
    metrics.push(ioMetric(kind, done, total), ...syncMetrics(kind, done, procs === 1 ? "write" : `write×${procs} p50`, procs === 1 ? st.p50 : undefined));
    return { metrics, prims, checks, details: { procs, per, latency: roundStats(st), where: whereLabel(kind) } };
  });
}

/** `procs` processes × (`creates` creates + 2 × `creates` updates) on one team. */
export async function tasksScenario(kind: StoreKind, procs: number, creates: number, quick: boolean, t: LoadTargets): Promise<RepeatResult> {
  return withStore(kind, `tasks${procs}`, async (s) => {
    const lead = s.ctx("team-lead");
    const ws = names(procs);
    await makeTeam(lead, TEAM, ws);
    // Workers warm up on another team, so the measured team's counts stay exact.
    const warmTeam = `${TEAM}-warm-up`;
    await makeTeam(lead, warmTeam, ws);
    const { prims, done } = await runWithPrims(kind, s, procs, quick,
      (prim) => ws.map((name) => ({ role: "tasks", store: s.ref, args: { team: TEAM, warmTeam, name, prim } })),
      (w) => phaseAll(w, "main", () => ({ creates })));
    const results = done.map((d) => d.result as { createLat: number[]; updateLat: number[]; expected: ExpectedTask[] });
    const cs = stats(results.flatMap((r) => r.createLat));
    const us = stats(results.flatMap((r) => r.updateLat));
    const all = stats(results.flatMap((r) => [...r.createLat, ...r.updateLat]));
    const ops = cs.n + us.n;

    const checks: Check[] = [];
    const expected = results.flatMap((r) => r.expected);
    const ids = new Set(expected.map((e) => e.id));
    checks.push({ name: `${procs * creates} creates gave distinct ids`, ok: ids.size === procs * creates && expected.length === procs * creates, detail: `${ids.size} distinct of ${expected.length}` });
    const rows = await lead.store.listTasks(TEAM);
    checks.push({ name: "the list holds every task once, nothing else", ok: rows.length === ids.size && rows.every((r) => ids.has(r.id)), detail: `${rows.length} rows` });
    const bad: string[] = [];
    for (const e of expected) {
      const d = taskDiff(await lead.store.getTask(TEAM, e.id), e);
      const row = rows.find((r) => r.id === e.id);
      if (row && (row.status !== e.status || row.owner !== e.owner || row.subject !== e.subject)) d.push(`list row ${row.status}/${row.owner}`);
      if (d.length) bad.push(`#${e.id}: ${d.join(", ")}`);
    }
    checks.push({ name: "every field of every task intact (task and list row)", ok: !bad.length, detail: bad.length ? `${bad.length} bad, e.g. ${bad.slice(0, 3).join("; ")}` : `${expected.length} tasks × 7 fields` });
    const ev = await checkEvents(lead, TEAM);
    checks.push(ev.check);
    const created = ev.events.filter((e) => e.kind === "task.created").length;
    checks.push({ name: "one task.created event per create", ok: created === expected.length, detail: `${created}` });
    if (kind !== "pg") checks.push(await checkJsonFiles(s.ref.dataDir!, TEAM, lead, { tasks: true, events: ev.events.length }));

    const cpu = done.reduce((a, d) => a + d.cpuMs, 0) / ops;
    const metrics: Metric[] = procs === 1
      ? [
          { name: "task op p50 (create or update)", value: all.p50, unit: "ms", vs: { prim: "write", kind: "x", target: t.p50x } },
          { name: "create p50", value: cs.p50, unit: "ms", vs: { prim: "write", kind: "x" } },
          { name: "update p50", value: us.p50, unit: "ms", vs: { prim: "write", kind: "x" } },
          { name: "throughput", value: opsPerS(ops, done), unit: "ops/s", target: t.throughput },
        ]
      : [
          { name: "throughput", value: opsPerS(ops, done), unit: "ops/s", target: t.throughput, targetRef: t.throughputRef ? { op: ">=", ref: t.throughputRef } : undefined, vs: { prim: `write×${procs}`, kind: "share" } },
          { name: "create p50", value: cs.p50, unit: "ms", vs: { prim: `write×${procs} p50`, kind: "x" } },
          { name: "create p99", value: cs.p99, unit: "ms", target: t.createP99 },
          { name: "update p50", value: us.p50, unit: "ms", target: t.updateP50, vs: { prim: `write×${procs} p50`, kind: "x" } },
          { name: "update p99", value: us.p99, unit: "ms" },
        ];
    metrics.push({ name: "CPU per op (all processes)", value: cpu, unit: "ms" });
    metrics.push({ name: "  of which in the kernel", value: done.reduce((a, d) => a + d.sysMs, 0) / ops, unit: "ms" });
    metrics.push(ioMetric(kind, done, ops), ...syncMetrics(kind, done, procs === 1 ? "write" : `write×${procs} p50`, procs === 1 ? all.p50 : undefined));
    return { metrics, prims, checks, details: { procs, creates, updates: 2 * creates, create: roundStats(cs), update: roundStats(us), where: whereLabel(kind) } };
  });
}

/** `procs` processes claim the next free task (the work queue) until none is left. */
export async function claimsScenario(kind: StoreKind, procs: number, perProc: number, quick: boolean, t: LoadTargets): Promise<RepeatResult> {
  return withStore(kind, `claims${procs}`, async (s) => {
    const lead = s.ctx("team-lead");
    const ws = names(procs);
    await makeTeam(lead, TEAM, ws);
    const warmTeam = `${TEAM}-warm-up`;
    await makeTeam(lead, warmTeam, ws);
    const total = procs * perProc;
    for (let i = 0; i < procs; i++) await createTask(lead, warmTeam, { subject: `warm-up ${i}`, description: "" });
    for (let i = 0; i < total; i++) await createTask(lead, TEAM, { subject: `job ${i}`, description: `work item ${i}` });
    const { prims, done } = await runWithPrims(kind, s, procs, quick,
      (prim) => ws.map((name) => ({ role: "claimer", store: s.ref, args: { team: TEAM, warmTeam, name, prim } })),
      (w) => phaseAll(w, "main"));
    const results = done.map((d) => d.result as { claims: { id: string; ms: number }[]; last: string });
    const st = stats(results.flatMap((r) => r.claims.map((c) => c.ms)));

    const checks: Check[] = [];
    const owners = new Map<string, string[]>();
    results.forEach((r, i) => r.claims.forEach((c) => owners.set(c.id, [...(owners.get(c.id) ?? []), ws[i]])));
    const doubled = [...owners].filter(([, o]) => o.length > 1);
    const claimed = results.reduce((a, r) => a + r.claims.length, 0);
    checks.push({ name: "0 double owners: every task claimed by exactly one process", ok: !doubled.length && owners.size === total && claimed === total, detail: `${claimed} claims of ${total} tasks, ${owners.size} distinct, ${doubled.length} doubled${doubled.length ? ` e.g. #${doubled[0][0]} by ${doubled[0][1].join(",")}` : ""}` });
    const wrong: string[] = [];
    for (const [id, o] of owners) {
      const task = await lead.store.getTask(TEAM, id);
      if (!task || task.owner !== o[0] || task.status !== "in_progress") wrong.push(`#${id}: ${task?.status}/${task?.owner}, claimed by ${o[0]}`);
    }
    checks.push({ name: "each task's owner is the process that got it, in progress", ok: !wrong.length, detail: wrong.length ? wrong.slice(0, 3).join("; ") : `${owners.size} tasks` });
    const ev = await checkEvents(lead, TEAM);
    checks.push(ev.check);
    const claimedEv = ev.events.filter((e) => e.kind === "task.claimed");
    const evTasks = new Set(claimedEv.map((e) => String(e.data.id)));
    checks.push({ name: "one task.claimed event per claim", ok: claimedEv.length === total && evTasks.size === total, detail: `${claimedEv.length} events, ${evTasks.size} tasks` });
    if (kind !== "pg") checks.push(await checkJsonFiles(s.ref.dataDir!, TEAM, lead, { tasks: true, events: ev.events.length }));

    return {
      metrics: [
        { name: "claims/s", value: opsPerS(claimed, done), unit: "claims/s", vs: { prim: `write×${procs}`, kind: "share" } },
        { name: "claim p50", value: st.p50, unit: "ms", vs: { prim: `write×${procs} p50`, kind: "x" } },
        { name: "claim p99", value: st.p99, unit: "ms", target: t.claimP99 },
        { name: "claim max", value: st.max, unit: "ms" },
        ioMetric(kind, done, claimed),
      ],
      prims,
      checks,
      details: { procs, tasks: total, claim: roundStats(st), perProcess: results.map((r) => r.claims.length), where: whereLabel(kind) },
    };
  });
}

