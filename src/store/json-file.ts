/** Atomic JSON files: temp file in the same directory, fsync, rename. Corrupt files are moved aside, never overwritten. */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { TeamsError } from "../errors.js";
import { writeAll } from "./handoff.js";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const knownDirs = new Set<string>();

/** mkdir -p with mode 0700 (cached: directories are created once per process). */
export function ensureDir(dir: string): void {
  if (knownDirs.has(dir)) return;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  } catch (e) {
    throw ioError(`cannot create directory ${dir}`, e);
  }
  knownDirs.add(dir);
}

/**
 * Opens a file whose directory ensureDir() created. If another process removed
 * that directory since (team deleted and re-created), the cache is stale:
 * forget it, re-create the directory and retry once.
 */
export function openInDir(file: string, flags: string): number {
  try {
    return fs.openSync(file, flags, FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const dir = path.dirname(file);
    forgetDirs(dir);
    ensureDir(dir);
    return fs.openSync(file, flags, FILE_MODE);
  }
}

/** Forget cached directories (after a team is deleted). */
export function forgetDirs(prefix: string): void {
  for (const d of knownDirs) if (d === prefix || d.startsWith(prefix + path.sep)) knownDirs.delete(d);
}

export function ioError(what: string, e: unknown): TeamsError {
  const err = e as NodeJS.ErrnoException;
  const hint = err?.code === "ENOSPC" ? " (disk full: free some space)" : err?.code === "EACCES" ? " (permission denied: check ownership of the data directory)" : "";
  return new TeamsError("IO", `${what}: ${err?.message ?? String(e)}${hint}`, { errno: err?.code });
}

/** Writes `data` to `file` atomically (temp + fsync + rename). */
export function writeFileAtomic(file: string, data: string, opts: { fsync?: boolean } = {}): void {
  ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let fd: number | undefined;
  try {
    fd = openInDir(tmp, "wx");
    fs.writeSync(fd, data);
    if (opts.fsync !== false) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw ioError(`cannot write ${file}`, e);
  }
}

/** Writes a JSON value atomically. */
export function writeJson(file: string, value: unknown, opts: { fsync?: boolean } = {}): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n", opts);
}

/** Reads a file as text, or undefined when it does not exist. */
export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(`cannot read ${file}`, e);
  }
}

/**
 * Reads and parses a JSON file; undefined when missing. A file that does not
 * parse (or fails `check`) is renamed to `<file>.corrupt-<time>` and reported
 * with both paths, so nothing is silently overwritten.
 */
export function readJson<T>(file: string, check?: (v: unknown) => T): T | undefined {
  return readJsonText(file, readText(file), check);
}

function readJsonText<T>(file: string, text: string | undefined, check?: (v: unknown) => T): T | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
    return check ? check(value) : (value as T);
  } catch (e) {
    const aside = moveAside(file);
    throw new TeamsError(
      "CORRUPT",
      `${file} is corrupt (${(e as Error).message.split("\n")[0].slice(0, 200)}); it was moved to ${aside} so nothing is lost. Inspect or restore it, then retry.`,
      { file, movedTo: aside },
    );
  }
}

/** File versions readJsonCached has validated: one stat tells whether the file is still that version. */
const validated = new Map<string, { dev: number; ino: number; size: number; mtimeNs: bigint; ctimeNs: bigint; text: string }>();

/**
 * readJson for small files read on every operation (a team's config): while
 * the file is the version last validated (same inode, size, mtime and ctime
 * to the nanosecond: every write here is a rename of a new file, so any
 * change shows), skips reading it and validating it again. Returns a fresh
 * object each time (callers may change it).
 */
export function readJsonCached<T>(file: string, check: (v: unknown) => T): T | undefined {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(file, { bigint: true });
  } catch (e) {
    validated.delete(file);
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(`cannot read ${file}`, e);
  }
  const hit = validated.get(file);
  if (hit && hit.ino === Number(st.ino) && hit.dev === Number(st.dev) && hit.size === Number(st.size) && hit.mtimeNs === st.mtimeNs && hit.ctimeNs === st.ctimeNs) {
    return JSON.parse(hit.text) as T;
  }
  const text = readText(file);
  const value = readJsonText(file, text, check);
  if (text !== undefined && Buffer.byteLength(text) === Number(st.size)) {
    // Only if what we read is the version we stat'ed (same size; a rename in between gets caught next time by its inode).
    validated.set(file, { dev: Number(st.dev), ino: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, text });
  }
  return value;
}

/** Renames a bad file out of the way and returns its new path. */
export function moveAside(file: string): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(2).toString("hex")}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot move corrupt ${file} aside`, e);
  }
  return aside;
}

/** Appends text with one write() call (O_APPEND), optionally fdatasync'd. */
export function appendText(file: string, text: string, opts: { sync?: boolean } = {}): void {
  ensureDir(path.dirname(file));
  let fd: number | undefined;
  try {
    fd = openInDir(file, "a");
    writeAll(fd, Buffer.from(text, "utf8"));
    if (opts.sync) fs.fdatasyncSync(fd);
  } catch (e) {
    throw ioError(`cannot append to ${file}`, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Parses a JSON-lines file. Only complete lines (ending in a newline) count:
 * a line being appended right now, or torn by a crash, is skipped, not fatal.
 * `end`: where the complete lines end (the index after the last newline).
 */
export function parseJsonl<T>(text: string): { items: T[]; bad: number; end: number } {
  const items: T[] = [];
  let bad = 0;
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) break;
    const line = text.slice(start, nl);
    start = nl + 1;
    if (!line.trim()) continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      bad++;
    }
  }
  return { items, bad, end: start };
}

/** Removes a directory tree, ignoring a missing one. */
export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  forgetDirs(dir);
}
