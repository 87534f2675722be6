/**
 * File primitives of the JSON store, hardened for a data directory other
 * agents can write into: no symlink is followed inside it (every open uses
 * O_NOFOLLOW; every directory is lstat'ed once per process), directories are
 * 0700 and files 0600, writes are atomic (temp file, rename), a file that does
 * not parse is moved aside and named, one that breaks the schema is named
 * with the field and left in place.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { TeamsError } from "../../errors.js";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_APPEND, O_TRUNC } = fs.constants;
/** 0 where the platform has no O_NOFOLLOW (Windows): the lstat checks below still refuse links. */
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

export const READ = O_RDONLY | O_NOFOLLOW;
export const APPEND = O_RDWR | O_APPEND | O_NOFOLLOW;
export const APPEND_CREATE = O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW;
export const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
export const REWRITE = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW;

/** Directories known to exist and be real directories (not links), per process. */
const knownDirs = new Set<string>();

export function ioError(what: string, e: unknown): TeamsError {
  const err = e as NodeJS.ErrnoException;
  if (err instanceof TeamsError) return err;
  const hint = err?.code === "ENOSPC" ? " (disk full: free some space)"
    : err?.code === "EACCES" || err?.code === "EPERM" ? " (permission denied: check the ownership of the data directory)"
    : err?.code === "ELOOP" ? " (it is a symbolic link: clanker-teams never follows links inside its data directory; remove the link and retry)"
    : err?.code === "EROFS" ? " (read-only file system)" : "";
  return new TeamsError("IO", `${what}: ${err?.message ?? String(e)}${hint}`, { errno: err?.code });
}

function linkError(p: string): TeamsError {
  return new TeamsError("IO", `${p} is a symbolic link; clanker-teams never follows links inside its data directory (a planted link could redirect its writes). Remove it (rm ${JSON.stringify(p)}) and retry.`, { file: p, errno: "ELOOP" });
}

/**
 * Checks the data directory once per process: it must be a directory owned
 * by this user and not writable by group or others (another user could plant
 * files or links in it). Creates it (0700) when missing.
 */
const checkedRoots = new Set<string>();
export function checkRoot(root: string): void {
  if (checkedRoots.has(root)) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot use data directory ${root}`, e);
    try {
      fs.mkdirSync(root, { recursive: true, mode: DIR_MODE });
      st = fs.statSync(root);
    } catch (e2) {
      throw ioError(`cannot create data directory ${root}`, e2);
    }
  }
  if (!st.isDirectory()) throw new TeamsError("IO", `data directory ${root} is not a directory; point CLANKER_TEAMS_DIR at a directory.`, { file: root });
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new TeamsError("IO", `data directory ${root} belongs to uid ${st.uid}, not you (uid ${uid}); another user could change your teams. Use a directory of your own (CLANKER_TEAMS_DIR) or fix its owner: chown ${uid} ${JSON.stringify(root)}`, { file: root });
  }
  if (process.platform !== "win32" && (st.mode & 0o022) !== 0) {
    throw new TeamsError("IO", `data directory ${root} is writable by ${st.mode & 0o020 ? "its group" : "others"} (mode ${(st.mode & 0o777).toString(8)}); another user could plant files or links in it. Fix it with: chmod 700 ${JSON.stringify(root)}`, { file: root });
  }
  checkedRoots.add(root);
  knownDirs.add(root);
}

/**
 * mkdir -p below `root` with mode 0700, refusing any component that is a
 * symbolic link (checked once per directory per process).
 */
export function ensureDir(root: string, dir: string): void {
  if (knownDirs.has(dir)) return;
  checkRoot(root);
  const rel = path.relative(root, dir);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new TeamsError("IO", `${dir} is outside the data directory ${root}`);
  let cur = root;
  for (const part of rel ? rel.split(path.sep) : []) {
    cur = path.join(cur, part);
    if (knownDirs.has(cur)) continue;
    try {
      fs.mkdirSync(cur, { mode: DIR_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`cannot create directory ${cur}`, e);
      const st = fs.lstatSync(cur);
      if (st.isSymbolicLink()) throw linkError(cur);
      if (!st.isDirectory()) throw new TeamsError("IO", `${cur} should be a directory; move the file away and retry.`, { file: cur });
    }
    knownDirs.add(cur);
  }
}

/** Forgets cached directories under `prefix` (a team deleted, maybe by another process). */
export function forgetDirs(prefix: string): void {
  for (const d of knownDirs) if (d === prefix || d.startsWith(prefix + path.sep)) knownDirs.delete(d);
}

/** Opens a data file without following a link at its last component (ELOOP becomes a clear error). */
export function openFile(file: string, flags: number): number {
  try {
    return fs.openSync(file, flags, FILE_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || (code === "EMLINK" && process.platform !== "linux")) throw linkError(file);
    throw e;
  }
}

/** Reads a whole file as text; undefined when it does not exist. Never follows a link. */
export function readText(file: string): string | undefined {
  let fd: number;
  try {
    fd = openFile(file, READ);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(`cannot read ${file}`, e);
  }
  try {
    return fs.readFileSync(fd, "utf8");
  } catch (e) {
    throw ioError(`cannot read ${file}`, e);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

export function readBytes(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/**
 * Writes `data` to `file` atomically: a new temp file (O_EXCL, never a link)
 * beside it, optionally fsync'd, renamed over the file (a rename replaces a
 * link instead of following it). `durable` also fsyncs the directory.
 */
export function writeAtomic(root: string, file: string, data: string | Buffer, opts: { sync?: boolean; durable?: boolean } = {}): void {
  const dir = path.dirname(file);
  ensureDir(root, dir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let fd: number | undefined;
  try {
    try {
      fd = openFile(tmp, CREATE_NEW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      // The directory was removed behind this process's back (the team deleted and made again elsewhere).
      forgetDirs(dir);
      ensureDir(root, dir);
      fd = openFile(tmp, CREATE_NEW);
    }
    writeAll(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    if (opts.sync || opts.durable) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
    if (opts.durable) syncDir(dir);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    if ((e as NodeJS.ErrnoException).code === "ENOENT") forgetDirs(dir);
    throw ioError(`cannot write ${file}`, e);
  }
}

/** fsync of a directory, so that a rename or create in it survives power loss. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, O_RDONLY);
    fs.fsyncSync(fd);
  } catch { /* some file systems refuse fsync on a directory: the data itself was synced */ } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
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

/**
 * Parses a JSON file's text. Text that is not JSON: the file is moved aside
 * (CORRUPT, both paths named). JSON that `check` refuses: INVALID_INPUT naming
 * the file and the field, the file left in place for its owner to fix.
 */
export function parseJsonFile<T>(file: string, text: string, check?: (v: unknown) => T): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const aside = moveAside(file);
    throw new TeamsError("CORRUPT", `${file} is corrupt (${(e as Error).message.split("\n")[0].slice(0, 200)}); it was moved to ${aside} so nothing is lost. Inspect or restore it, then retry.`, { file, movedTo: aside });
  }
  if (!check) return value as T;
  try {
    return check(value);
  } catch (e) {
    throw new TeamsError("INVALID_INPUT", `${file}: ${(e as Error).message}. The file was left as it is: fix that field (or remove it) and retry.`, { file });
  }
}

/** Reads and parses a JSON file; undefined when missing (see parseJsonFile). */
export function readJson<T>(file: string, check?: (v: unknown) => T): T | undefined {
  const text = readText(file);
  return text === undefined ? undefined : parseJsonFile(file, text, check);
}

/**
 * Parses JSON lines: only complete lines (ending in a newline) count, so a
 * line being appended right now is not taken for a torn one. Lines that do not
 * parse are counted and skipped. `end`: the byte offset after the last newline.
 */
export function parseLines(buf: Buffer): { items: unknown[]; bad: number; end: number } {
  const items: unknown[] = [];
  let bad = 0;
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    if (nl > start) {
      const line = buf.toString("utf8", start, nl);
      if (line.trim()) {
        try { items.push(JSON.parse(line)); } catch { bad++; }
      }
    }
    start = nl + 1;
  }
  return { items, bad, end: start };
}

/** Appends text with one write (O_APPEND), optionally fdatasync'd. */
export function appendText(root: string, file: string, text: string, opts: { sync?: boolean } = {}): void {
  ensureDir(root, path.dirname(file));
  let fd: number | undefined;
  try {
    fd = openFile(file, APPEND_CREATE);
    writeAll(fd, Buffer.from(text, "utf8"));
    if (opts.sync) fs.fdatasyncSync(fd);
  } catch (e) {
    throw ioError(`cannot append to ${file}`, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Removes a directory tree (never following links out of it), ignoring a missing one. */
export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  forgetDirs(dir);
}

/** Size of a file, 0 when missing. */
export function fileSize(file: string): number {
  try {
    return fs.lstatSync(file).size;
  } catch {
    return 0;
  }
}
