/**
 * Summarizes V8 CPU profiles of bench workers:
 * `node dist/bench/cpuprofile.js DIR [--top N] [--focus NAME,…]`.
 * Prints, summed over every *.cpuprofile in DIR, the self time per function
 * (with its file) and the total (inclusive) time of the functions named in
 * --focus ("name" or "name file.js"), as shares of all sampled time (idle excluded).
 * Profiles of the measured phases only: CLANKER_BENCH_CPU_PROF=DIR npm run bench -- --only …
 * (whole processes, start-up included: CLANKER_BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=DIR").
 */
import fs from "node:fs";
import path from "node:path";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

function label(n: Node): string {
  const f = n.callFrame;
  const file = f.url ? path.basename(f.url.replace(/^file:\/\//, "")) : "";
  return `${f.functionName || "(anonymous)"}${file ? ` ${file}:${f.lineNumber + 1}` : ""}`;
}

function main(): void {
  const args = process.argv.slice(2);
  const dir = args[0];
  if (!dir) throw new Error("usage: node dist/bench/cpuprofile.js DIR [--top N] [--focus NAME,…]");
  const top = Number(args[args.indexOf("--top") + 1]) || 30;
  const focus = args.includes("--focus") ? args[args.indexOf("--focus") + 1].split(",") : [];
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  for (const f of files) {
    const p = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    p.samples.forEach((id, i) => {
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      const n = byId.get(id)!;
      const name = n.callFrame.functionName;
      // The profiler's own stop call gets the time since the last sample: not the code's.
      const profilerStop = name === "dispatch" && byId.get(parent.get(id) ?? -1)?.callFrame.url.includes("inspector");
      if (name === "(idle)" || profilerStop) { idle += dt; return; }
      total += dt;
      const l = label(n);
      self.set(l, (self.get(l) ?? 0) + dt);
      // Inclusive time of the focused functions: once per sample, however deep the recursion.
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const node = byId.get(cur)!;
        const fn = node.callFrame.functionName;
        const file = path.basename(node.callFrame.url);
        for (const x of focus) {
          const [want, wantFile] = x.split(" ");
          if (fn === want && (!wantFile || file === wantFile) && !seen.has(x)) { seen.add(x); incl.set(x, (incl.get(x) ?? 0) + dt); }
        }
      }
    });
  }
  console.log(`${files.length} profiles, ${total.toFixed(0)} ms sampled (idle and the profiler's stop: ${idle.toFixed(0)} ms, excluded)`);
  console.log(`\nself time, top ${top}:`);
  for (const [l, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(100 * ms / total).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${l}`);
  if (focus.length) {
    console.log(`\ntotal (inclusive) time:`);
    for (const x of focus) console.log(`  ${(100 * (incl.get(x) ?? 0) / total).toFixed(1).padStart(5)} %  ${(incl.get(x) ?? 0).toFixed(0).padStart(6)} ms  ${x}`);
  }
}

main();
