/** Where the caller's repository is: reservations and checkpoints name paths relative to its root. */
import fs from "node:fs";
import path from "node:path";
import type { Where } from "./domain/reservations.js";

function real(p: string): string {
  try { return fs.realpathSync.native(p); } catch { return path.resolve(p); }
}

/** The nearest directory at or above `cwd` with a `.git` entry (a repository or a worktree); `cwd` itself when there is none. */
export function repoRoot(cwd: string): string {
  const start = real(cwd);
  for (let d = start; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, ".git"))) return d;
    if (path.dirname(d) === d) return start;
  }
}

/** The caller's directory and its repository root, for normalising paths. */
export function whereOf(cwd: string): Where {
  return { cwd: real(cwd), root: repoRoot(cwd) };
}

/**
 * A file path as a tool (pi's edit/write) would resolve it, made real (the
 * symlinks of its existing part resolved), relative to the repository root;
 * undefined when it lies outside the repository.
 */
export function repoPath(file: string, cwd: string): string | undefined {
  const w = whereOf(cwd);
  const abs = path.resolve(w.cwd, file);
  // Resolve the part that exists (a new file's directory may be a symlink).
  let head = abs;
  const tail: string[] = [];
  while (!fs.existsSync(head) && path.dirname(head) !== head) { tail.unshift(path.basename(head)); head = path.dirname(head); }
  const full = path.join(real(head), ...tail);
  const rel = path.relative(w.root, full);
  if (!rel || rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join("/");
}
