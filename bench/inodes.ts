/**
 * New inodes per operation on the JSON store's hot paths (sends, reads, task
 * updates, events; creates for comparison), in one process, counted by
 * bench/fs-counter.ts (see its header for the method). Two patterns:
 * - burst: N operations back to back, then the derived files flushed (a busy
 *   team: one rewrite of each derived file per ~100 ms, whatever N is);
 * - spaced: operations FLUSH_MS + 50 ms apart (an idle agent: every operation
 *   is followed by its own rewrite of the derived files).
 * "Commit path" counts what is created inside the operation call; "derived
 * files" what the timers and flushes create outside it.
 */
import { TEAM, makeTeam, withStore } from "./common.js";
import type { FsCounts } from "./fs-counter.js";
import { closeAll, startWorkers, type Check, type Metric, type RepeatResult, type Target } from "./util.js";

const HOT = ["send", "read", "update", "event"];

export async function inodesScenario(quick: boolean, target: Target): Promise<RepeatResult> {
  return withStore("json", "inodes", async (s) => {
    await makeTeam(s.ctx("team-lead"), TEAM, ["w1"]);
    const [w] = await startWorkers([{ role: "inodes", store: s.ref, args: { team: TEAM, lead: "team-lead", mate: "w1" } }]);
    let r: Record<string, Record<"burst" | "spaced", { ops: number; op: FsCounts; background: FsCounts; netEntries: number }>>;
    const n = quick ? 100 : 400;
    const spaced = quick ? 10 : 30;
    try {
      r = (await w.run("main", { n, spaced, gapMs: 150 })).result as typeof r;
    } finally {
      await closeAll([w]);
    }
    const metrics: Metric[] = [];
    const checks: Check[] = [];
    const method: string[] = [];
    for (const [kind, modes] of Object.entries(r)) {
      const b = modes.burst;
      const sp = modes.spaced;
      const hot = HOT.includes(kind);
      metrics.push({ name: `${kind}: new inodes per op, commit path`, value: (b.op.created + sp.op.created) / (b.ops + sp.ops), unit: "/op", target: hot ? target : undefined });
      metrics.push({ name: `${kind}: + derived files, burst of ${b.ops}`, value: b.background.created / b.ops, unit: "/op" });
      metrics.push({ name: `${kind}: + derived files, ops 150 ms apart`, value: sp.background.created / sp.ops, unit: "/op" });
      metrics.push({ name: `${kind}: fs calls per op, commit path`, value: Object.values(b.op.calls).reduce((a, c) => a + c, 0) / b.ops, unit: "/op" });
      for (const [mode, m] of Object.entries(modes)) {
        const created = m.op.created + m.background.created;
        const removed = m.op.removed + m.background.removed;
        if (created - removed !== m.netEntries) method.push(`${kind}/${mode}: created ${created} − removed ${removed} ≠ ${m.netEntries} new directory entries`);
      }
    }
    // The counter sees every file the store makes: what it counts as created minus removed is what the directory walk finds.
    checks.push({ name: "method: created − removed (counted calls) = change in directory entries (walk)", ok: !method.length, detail: method.length ? method.slice(0, 3).join("; ") : "all kinds and modes" });
    return { metrics, prims: {}, checks, details: { perKind: r, n, spaced, gapMs: 150 } };
  });
}
