/** Plumbing shared by the scenarios: a fresh team, the primitives of a repeat, worker specs. */
import fs from "node:fs";
import path from "node:path";
import { addMember, createTeam, type Ctx } from "../src/index.js";
import { pgPrimTable, primAppend, primPg } from "./prims.js";
import { freshStore, pgSettings, type BenchStore, type StoreKind } from "./stores.js";
import { stats, wallMs, type Done, type Prim, type RepeatResult } from "./util.js";

export const TEAM = "bench";

/** Where a store kind's data is, for people. */
export function whereLabel(kind: StoreKind): string {
  return kind === "pg" ? "PostgreSQL" : kind === "json-tmpfs" ? "tmpfs" : "disk";
}

/** A team with these members (besides the lead). */
export async function makeTeam(lead: Ctx, team: string, members: string[]): Promise<void> {
  await createTeam(lead, { team_name: team });
  for (const m of members) await addMember(lead, team, { name: m, role: "teammate" });
}

/** The uncontended primitive of this store (measured now): "write". */
export async function uncontended(s: BenchStore, quick: boolean): Promise<Prim> {
  const n = quick ? 100 : 300;
  if (s.kind === "pg") return primPg(s.ref.db!, n, await pgSettings(s.ref.db!));
  return primAppend(s.fsDir, whereLabel(s.kind), n);
}

/** What workers need to run the contended primitive on this store (a shared file beside the data, or the server). */
export async function contendedSetup(s: BenchStore): Promise<{ prim: Record<string, unknown>; cleanup(): void }> {
  if (s.kind === "pg") {
    await pgPrimTable(s.ref.db!);
    return { prim: { kind: "pg", url: s.ref.db }, cleanup() {} };
  }
  const dir = fs.mkdtempSync(path.join(s.fsDir, "prim-shared-"));
  return { prim: { kind: "append", file: path.join(dir, "shared.jsonl") }, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The contended primitive's figures from a "prim" phase: throughput and p50. */
export function contendedPrims(done: Done[], kind: StoreKind, procs: number): Record<string, Prim> {
  const lat = done.flatMap((d) => (d.result as { lat: number[] }).lat);
  const t0 = Math.min(...done.map((d) => (d.result as { t0: number }).t0));
  const t1 = Math.max(...done.map((d) => (d.result as { t1: number }).t1));
  const s = stats(lat);
  const what = kind === "pg" ? "INSERT + COMMIT, own connection each" : "O_APPEND write + fdatasync to one shared file";
  return {
    [`write×${procs}`]: { label: `${procs} processes × ${what} (${whereLabel(kind)}), throughput`, value: lat.length / ((t1 - t0) / 1000), unit: "/s", details: { n: lat.length, p50: s.p50, p99: s.p99, wallMs: t1 - t0 } },
    [`write×${procs} p50`]: { label: `${procs} processes × ${what} (${whereLabel(kind)}), p50`, value: s.p50, unit: "ms" },
  };
}

/** Runs `body` on a fresh store of `kind` and removes it afterwards. */
export async function withStore(kind: StoreKind, label: string, body: (s: BenchStore) => Promise<RepeatResult>): Promise<RepeatResult> {
  const s = await freshStore(kind, label);
  try {
    return await body(s);
  } finally {
    await s.cleanup();
  }
}

/** Throughput of a phase in ops/s. */
export function opsPerS(ops: number, done: Done[]): number {
  return ops / (wallMs(done) / 1000);
}

/** Environment of a worker on its own "host": its own host name, HOME and (PostgreSQL) data dir; only the store is shared. */
export function hostEnv(s: BenchStore, host: string, scratch: string): Record<string, string> {
  const home = path.join(scratch, host);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  return { CLANKER_TEAMS_HOST: host, HOME: home, ...(s.kind === "pg" ? { CLANKER_TEAMS_DIR: home } : {}) };
}
