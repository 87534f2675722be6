/**
 * The physical-limit primitives every scenario is compared with, measured in
 * the same repeat, on the same file system or server:
 * - disk / tmpfs: one write() of a ~300-byte line on an O_APPEND fd, then
 *   fdatasync() (the JSON store's commit is exactly one of these);
 * - PostgreSQL: one INSERT of a ~300-byte row and its COMMIT (autocommit),
 *   one round trip, on the bench's durable cluster.
 * Contended versions run in the scenario's own worker processes, each writing
 * to one shared file (or its own connection), right before the scenario.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { stats, type Prim } from "./util.js";

/** A 300-byte JSON line, like a log record of a send. */
export const LINE = (() => {
  const rec = (content: string) => `\n${JSON.stringify({ n: "AAAAAAAAAAAA", t: new Date(0).toISOString(), base: 123456, op: "msg", msgs: [{ id: "abcdefabcdef", from: "w1", to: "team-lead", content, summary: "bench send", read: false }] })}\n`;
  return Buffer.from(rec("x".repeat(300 - rec("").length)));
})();

export const PRIM_TABLE = "bench_prim";

/** `n` timed O_APPEND writes + fdatasync of LINE to `file` (after `warm` untimed ones); ms each. */
export function appendSyncSamples(file: string, n: number, warm = 10): { lat: number[]; t0: number; t1: number } {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  try {
    for (let i = 0; i < warm; i++) { fs.writeSync(fd, LINE); fs.fdatasyncSync(fd); }
    const lat: number[] = [];
    const t0 = performance.timeOrigin + performance.now();
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      fs.writeSync(fd, LINE);
      fs.fdatasyncSync(fd);
      lat.push(performance.now() - s);
    }
    const t1 = performance.timeOrigin + performance.now();
    return { lat, t0, t1 };
  } finally {
    fs.closeSync(fd);
  }
}

/** The uncontended primitive on the file system of `dir`: p50 of `n` appends + fdatasync. */
export function primAppend(dir: string, where: string, n: number): Prim {
  const scratch = fs.mkdtempSync(path.join(dir, "prim-"));
  try {
    const { lat } = appendSyncSamples(path.join(scratch, "prim.jsonl"), n);
    const s = stats(lat);
    return { label: `${where}: O_APPEND write + fdatasync, ${LINE.length} B, p50`, value: s.p50, unit: "ms", details: { n, p50: s.p50, p90: s.p90, p99: s.p99 } };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

type PgClient = import("pg").Client;

export async function pgConnect(url: string): Promise<PgClient> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/** Creates the primitive's table (once per database, before any worker uses it). */
export async function pgPrimTable(url: string): Promise<void> {
  const c = await pgConnect(url);
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS ${PRIM_TABLE} (id bigserial PRIMARY KEY, line text NOT NULL)`);
  } finally {
    await c.end();
  }
}

/** `n` timed INSERT + COMMIT round trips (autocommit) on an open connection; ms each. */
export async function pgInsertSamples(c: PgClient, n: number, warm = 10): Promise<{ lat: number[]; t0: number; t1: number }> {
  const line = LINE.toString("utf8").trim();
  const sql = `INSERT INTO ${PRIM_TABLE} (line) VALUES ($1)`;
  for (let i = 0; i < warm; i++) await c.query(sql, [line]);
  const lat: number[] = [];
  const t0 = performance.timeOrigin + performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await c.query(sql, [line]);
    lat.push(performance.now() - s);
  }
  const t1 = performance.timeOrigin + performance.now();
  return { lat, t0, t1 };
}

/** The uncontended PostgreSQL primitive: p50 of `n` INSERT + COMMIT round trips. */
export async function primPg(url: string, n: number, settings: Record<string, string>): Promise<Prim> {
  await pgPrimTable(url);
  const c = await pgConnect(url);
  try {
    const { lat } = await pgInsertSamples(c, n);
    const s = stats(lat);
    return { label: `PostgreSQL: INSERT ${LINE.length} B + COMMIT round trip (fsync ${settings.fsync}, synchronous_commit ${settings.synchronous_commit}), p50`, value: s.p50, unit: "ms", details: { n, p50: s.p50, p90: s.p90, p99: s.p99, settings } };
  } finally {
    await c.end();
  }
}
