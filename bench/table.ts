/**
 * `node dist/bench/table.js [.bench-out/results.json]`: the figures of a run
 * as the Markdown table docs/benchmarks.md shows (every figure with a target
 * or a primitive: median, the repeats, the primitive, the ratio, the target,
 * the load average during the scenario).
 */
import fs from "node:fs";

interface Agg { name: string; value: number; unit: string; values: number[]; target?: { op: string; value: number }; targetFrom?: string; targetMissing?: string; met?: boolean; ratioMet?: boolean; ratio?: { prim: string; kind: "x" | "share"; value: number; target?: { op: string; value: number } } }
interface Res { name: string; skipped?: string; repeats: { load: number[] }[]; prims: Record<string, { value: number; unit: string }>; metrics: Agg[] }

const f = (v: number): string => {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 ? Math.round(v).toLocaleString("en") : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v === 0 ? "0" : v.toFixed(3);
};
const op = (o: string) => (o === ">=" ? "≥" : "≤");

const file = process.argv[2] ?? ".bench-out/results.json";
const run = JSON.parse(fs.readFileSync(file, "utf8")) as { when: string; repeats: number; minutes: number; machine: { loadBefore: number[] }; results: Res[] };
console.log(`Run of ${run.when}, ${run.repeats} repeats, ${run.minutes} min, load average before ${run.machine.loadBefore.map((l) => l.toFixed(2)).join(" / ")}.\n`);
console.log("| scenario | figure | median (repeats) | primitive | ratio | target | | load |");
console.log("|---|---|---|---|---|---|---|---|");
for (const s of run.results) {
  if (s.skipped) { console.log(`| ${s.name} | skipped: ${s.skipped} | | | | | | |`); continue; }
  const loads = s.repeats.flatMap((x) => x.load);
  const load = `${f(Math.min(...loads))}–${f(Math.max(...loads))}`;
  for (const m of s.metrics) {
    if (!m.target && !m.ratio && !m.targetMissing) continue;
    const r = m.ratio;
    const ratio = r ? (r.kind === "x" ? `${f(r.value)}× ${r.prim}` : `${f(r.value)} of ${r.prim}`) : "";
    const prim = r && s.prims[r.prim] ? `${f(s.prims[r.prim].value)} ${s.prims[r.prim].unit}` : "";
    const tgt = [r?.target ? `${op(r.target.op)} ${f(r.target.value)}×` : "", m.target ? `${op(m.target.op)} ${f(m.target.value)} ${m.unit}${m.targetFrom ? ` (${m.targetFrom})` : ""}` : m.targetMissing ?? ""].filter(Boolean).join(", ");
    const ok = r?.target ? m.ratioMet && m.met !== false : m.met;
    const reps = m.values.length > 1 ? ` (${m.values.map(f).join(" / ")})` : "";
    console.log(`| ${s.name} | ${m.name} | ${f(m.value)} ${m.unit}${reps} | ${prim} | ${ratio} | ${tgt} | ${ok === undefined ? "" : ok ? "ok" : "**MISSED**"} | ${load} |`);
  }
}
