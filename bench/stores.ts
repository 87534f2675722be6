/**
 * Where a scenario's data lives, fresh for every repeat: a JSON data directory
 * on the bench's disk ($TMPDIR) or on tmpfs (/dev/shm), or a new database on
 * the bench's own PostgreSQL cluster (initdb + pg_ctl into a temp dir by
 * test/helpers/pg.ts, started durable: fsync on, synchronous_commit on; never
 * a system database, never the user's). ~/.clanker is never touched.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { makeCtx, type Ctx } from "../src/index.js";
import { clusterUrl, pgBinDir, startCluster, stopCluster, type ClusterInfo } from "../test/helpers/pg.js";
import type { StoreRef } from "./util.js";

export type StoreKind = "json" | "json-tmpfs" | "pg";

export interface BenchStore {
  kind: StoreKind;
  ref: StoreRef;
  /** A directory on the same file system as the data (primitives write their file there). */
  fsDir: string;
  /** A context acting as `actor` on this store (in this process). */
  ctx(actor: string): Ctx;
  /** Removes the data (and closes what this process opened). */
  cleanup(): Promise<void>;
}

/** The root of the bench's temp dirs on the disk or on tmpfs. */
export function benchRoot(kind: StoreKind): string {
  const base = kind === "json-tmpfs" ? "/dev/shm" : os.tmpdir();
  const root = path.join(base, "clanker-teams-bench");
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  fs.chmodSync(root, 0o700);
  return root;
}

/** A fresh temp dir under the bench root (0700, as the JSON store wants its data dir). */
export function freshDir(kind: StoreKind, label: string): string {
  return fs.mkdtempSync(path.join(benchRoot(kind), `${label}-`));
}

export function tmpfsAvailable(): boolean {
  try {
    return fs.statSync("/dev/shm").isDirectory() && fs.accessSync("/dev/shm", fs.constants.W_OK) === undefined;
  } catch {
    return false;
  }
}

// ---- the bench's PostgreSQL ---------------------------------------------------------

let cluster: Promise<ClusterInfo> | undefined;
let clusterInfo: ClusterInfo | undefined;

/** Why PostgreSQL scenarios cannot run here, or undefined when they can. */
export function pgUnavailable(): string | undefined {
  if (!pgBinDir()) return "no PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin): install Debian's postgresql package to run the PostgreSQL scenarios";
  return undefined;
}

/** The run's private, durable cluster (started on first use, stopped at exit). */
export function benchCluster(): Promise<ClusterInfo> {
  cluster ??= startCluster(process.pid, { durable: true }).then((info) => {
    clusterInfo = info;
    process.once("exit", () => stopBenchCluster());
    return info;
  });
  return cluster;
}

export function stopBenchCluster(): void {
  if (clusterInfo) {
    const info = clusterInfo;
    clusterInfo = undefined;
    cluster = undefined;
    stopCluster(info);
  }
}

async function admin<T>(info: ClusterInfo, fn: (c: import("pg").Client) => Promise<T>): Promise<T> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: clusterUrl(info, "postgres") });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The server's durability settings, as the primitive reports them. */
export async function pgSettings(url: string): Promise<Record<string, string>> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const k of ["fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "server_version"]) {
      out[k] = (await c.query(`SHOW ${k}`)).rows[0][k];
    }
    return out;
  } finally {
    await c.end();
  }
}

// ---- fresh stores -------------------------------------------------------------------

/** A fresh, empty store of this kind for one repeat of a scenario. */
export async function freshStore(kind: StoreKind, label: string): Promise<BenchStore> {
  const opened: Ctx[] = [];
  if (kind === "pg") {
    const info = await benchCluster();
    const db = `bench_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase().slice(0, 30)}_${randomBytes(4).toString("hex")}`;
    await admin(info, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`));
    const url = clusterUrl(info, db);
    // A throwaway data dir: the pg store keeps nothing there, but nothing may fall back to ~/.clanker.
    const scratch = freshDir("json", `${label}-pgscratch`);
    let store: Ctx["store"] | undefined;
    return {
      kind,
      ref: { db: url },
      fsDir: info.dir,
      ctx(actor) {
        const c = makeCtx({ db: url, dataDir: scratch, actor, env: { CLANKER_TEAMS_DIR: scratch } });
        store = c.store; // openStore keeps one store per URL
        return c;
      },
      async cleanup() {
        try { await store?.close(); } catch { /* already closed */ }
        await admin(info, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`));
        fs.rmSync(scratch, { recursive: true, force: true });
      },
    };
  }
  const dir = freshDir(kind, label);
  return {
    kind,
    ref: { dataDir: dir },
    fsDir: path.dirname(dir),
    ctx(actor) {
      const c = makeCtx({ dataDir: dir, actor, env: { CLANKER_TEAMS_DIR: dir } });
      opened.push(c);
      return c;
    },
    async cleanup() {
      for (const c of opened) try { await c.store.close(); } catch { /* removed below anyway */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
