/** Shared test fixtures: a fresh data dir per test, a team with members, CLI and worker runners, data-dir snapshots. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type Options } from "execa";
import { makeCtx, type Ctx, type CtxOptions } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import { JsonStore } from "../../src/store/json/index.js";
import { Layout } from "../../src/store/json/layout.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(ROOT, "bin", "clanker-teams.js");
export const PROCS = path.join(ROOT, "test", "procs");

const made: string[] = [];

/** A fresh temp directory (removed by cleanupTemp). */
export function tempDir(prefix = "clanker-test-"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Data dirs of world()s: their pending file writes are done before the dirs go (no warnings from timers firing after). */
const worldDirs = new Set<string>();

/** Removes every temp dir made so far (call in afterAll/afterEach). */
export function cleanupTemp(): void {
  // flush() runs synchronously up to its end (it awaits nothing); a failure is the test's business, not ours.
  for (const d of worldDirs) void new JsonStore({ dataDir: d }).flush().catch(() => undefined);
  worldDirs.clear();
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface World {
  dir: string;
  /** The documented files of this data dir (src/store/json/layout.ts); current after `await w.flush()`. */
  layout: Layout;
  /** Brings the documented files up to date (they follow the log within ~100 ms otherwise). */
  flush(): Promise<void>;
  /** A context acting as `actor` (default team-lead), sharing the data dir and clock. */
  as(actor?: string, extra?: Partial<CtxOptions>): Ctx;
  /** The env a child process needs to use this data dir. */
  env: NodeJS.ProcessEnv;
  /** Injected clock: set/advance it. */
  clock: { now: number; advance(ms: number): void };
}

/** A fresh data dir with an injectable clock. No hooks run unless a test passes runHook. */
export function world(): World {
  const dir = tempDir("clanker-data-");
  worldDirs.add(dir);
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0), advance(ms: number) { this.now += ms; } };
  const env = { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "" };
  return {
    dir,
    env,
    clock,
    layout: new Layout(dir),
    flush: () => new JsonStore({ dataDir: dir }).flush(),
    as: (actor = "team-lead", extra = {}) => makeCtx({ dataDir: dir, actor, env, cwd: dir, now: () => clock.now, runHook: async () => ({ ran: false, outcome: "missing" }), ...extra }),
  };
}

/** Creates `team` (lead: team-lead) with the given teammates. */
export async function teamWith(w: World, team: string, members: string[] = []): Promise<void> {
  const lead = w.as();
  await createTeam(lead, { team_name: team, description: "test team" });
  for (const m of members) await addMember(lead, team, { name: m, role: "teammate" });
}

export interface CliResult { exitCode?: number; stdout: string; stderr: string; signal?: string }

/** Runs the built CLI (node bin/clanker-teams.js) with the given data dir; never rejects. */
export function cli(args: string[], opts: { dir: string; env?: NodeJS.ProcessEnv; input?: string } & Options = { dir: "" }): Promise<CliResult> {
  const { dir, env, ...rest } = opts;
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "", NO_COLOR: "1", ...env },
    ...rest,
  }) as unknown as Promise<CliResult>;
}

/** Every file under `dir` (relative path → contents as base64), lock dirs ignored. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { if (!e.name.endsWith(".lock")) walk(p); }
      else out.set(path.relative(dir, p), fs.readFileSync(p).toString("base64"));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/**
 * Throws unless every file under `dir` is whole: JSON files parse, every line
 * of a JSON-lines file parses, no file was moved aside as corrupt; temp files
 * (of killed writers) are the only others. The log's segments (wal/) are the
 * exception: a record torn by a writer killed mid-write is part of their
 * format (every reader skips it), so there only complete lines must parse.
 */
export function assertDataFilesParse(dir: string): void {
  for (const e of walk(dir)) {
    if (e.dir) continue;
    if (e.path.includes(".corrupt-")) throw new Error(`a file was found corrupt and moved aside: ${e.path}`);
    if (e.path.endsWith(".tmp")) continue;
    const text = fs.readFileSync(e.path, "utf8");
    const inLog = path.basename(path.dirname(e.path)) === "wal" && /^\d+\.jsonl$/.test(path.basename(e.path));
    if (e.path.endsWith(".json")) {
      try { JSON.parse(text); } catch (err) { throw new Error(`${e.path} does not parse: ${(err as Error).message}`); }
    } else if (e.path.endsWith(".jsonl")) {
      if (!inLog && text && !text.endsWith("\n")) throw new Error(`${e.path}: the last line is cut off: ${text.slice(text.lastIndexOf("\n") + 1, 80)}`);
      for (const line of text.split("\n").filter(Boolean)) {
        try { JSON.parse(line); } catch { if (!inLog) throw new Error(`${e.path}: a line does not parse: ${line.slice(0, 80)}`); }
      }
    } else throw new Error(`unexpected file ${e.path}`);
  }
}

/** Every file and directory under `dir`, with stat info. */
export function walk(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  const rec = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.statSync(p);
      out.push({ path: p, dir: e.isDirectory(), mode: st.mode & 0o777 });
      if (e.isDirectory()) rec(p);
    }
  };
  rec(dir);
  return out;
}

/** Reads a JSON file. */
export function readJsonFile<T = any>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Reads a JSON-lines file (complete lines only). */
export function readJsonl<T = any>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** Waits until `pred` is true (polling), or throws after `ms`. */
export async function until(pred: () => boolean | Promise<boolean>, ms = 10_000, step = 25): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Is `pid` a live process? */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}
