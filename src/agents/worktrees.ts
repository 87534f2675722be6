/**
 * Worktree isolation: a teammate works in a git worktree and branch of its
 * own (named after team and teammate) so that teammates never commit over
 * each other; the lead sees each branch and its diff and merges it (fast
 * forward or a merge commit; a conflict is reported with its files and the
 * merge aborted, never left half done); removing a teammate keeps a branch
 * that has unmerged work and says so. Every git call is an argv (execa).
 */
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { execa } from "execa";
import { TeamsError, invalid } from "../errors.js";

/** The branch prefix of every teammate branch. */
export const BRANCH_PREFIX = "clanker";

async function git(cwd: string, args: string[], opts: { reject?: boolean } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa("git", args, { cwd, reject: false, env: { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" } });
  if (r.exitCode !== 0 && opts.reject !== false) {
    throw new TeamsError("IO", `git ${args.join(" ")} failed in ${cwd}: ${(r.stderr || r.stdout || `exit ${r.exitCode}`).trim().split("\n").slice(-3).join(" ")}`);
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** A name made safe for a git ref and a directory: letters, digits, '.', '_', '-'; anything else as -xHH. */
export function slug(name: string): string {
  const s = Array.from(name.normalize("NFC")).map((ch) => (/^[A-Za-z0-9_-]$/.test(ch) ? ch : ch === "." ? "." : `-x${ch.codePointAt(0)!.toString(16)}`)).join("");
  // No ".." and no leading "." or trailing ".lock" (git refuses them).
  return s.replace(/\.\./g, "-x2e.").replace(/^\./, "-x2e").replace(/\.lock$/, "-x2elock") || "-";
}

/** The teammate's branch: clanker/<team>/<name>. */
export function branchFor(team: string, name: string): string {
  return `${BRANCH_PREFIX}/${slug(team)}/${slug(name)}`;
}

/** The repository's top directory, or a clear error when `cwd` is not in a git repository. */
export async function repoRoot(cwd: string): Promise<string> {
  const r = await git(cwd, ["rev-parse", "--show-toplevel"], { reject: false });
  if (r.exitCode !== 0) throw invalid("isolation", `"worktree" needs a git repository, and ${cwd} is not in one; use isolation "shared" or start in a repository`);
  return fs.realpathSync(r.stdout.trim());
}

/**
 * Where a teammate's worktree goes: `<base>/<repo>-<hash>/<team>/<name>`,
 * base = the team config's `worktreeDir`, else `<data dir>/worktrees` (out of
 * the repository, so the repository's own tools never see it).
 */
export function worktreeDir(base: string, repo: string, team: string, name: string): string {
  const tag = `${slug(path.basename(repo))}-${createHash("sha256").update(repo).digest("hex").slice(0, 8)}`;
  return path.join(base, tag, slug(team), slug(name));
}

export interface Worktree { repo: string; dir: string; branch: string; base: string }

/**
 * Creates (or reuses) the teammate's worktree on its branch, starting from
 * the repository's current HEAD. A branch left by an earlier teammate of that
 * name is reused with its commits.
 */
export async function createWorktree(opts: { cwd: string; baseDir: string; team: string; name: string }): Promise<Worktree> {
  const repo = await repoRoot(opts.cwd);
  const branch = branchFor(opts.team, opts.name);
  const dir = worktreeDir(opts.baseDir, repo, opts.team, opts.name);
  const base = (await git(repo, ["rev-parse", "--abbrev-ref", "HEAD"])).stdout.trim();
  const listed = await listWorktrees(repo);
  const existing = listed.find((w) => w.branch === branch);
  if (existing && fs.existsSync(existing.dir)) return { repo, dir: existing.dir, branch, base };
  // A worktree directory whose checkout was removed by hand: git must forget it before it is added again.
  await git(repo, ["worktree", "prune"], { reject: false });
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  const hasBranch = (await git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { reject: false })).exitCode === 0;
  await git(repo, hasBranch ? ["worktree", "add", dir, branch] : ["worktree", "add", "-b", branch, dir, "HEAD"]);
  return { repo, dir, branch, base };
}

async function listWorktrees(repo: string): Promise<Array<{ dir: string; branch?: string }>> {
  const out = (await git(repo, ["worktree", "list", "--porcelain"])).stdout;
  const list: Array<{ dir: string; branch?: string }> = [];
  for (const block of out.split("\n\n")) {
    const dir = /^worktree (.+)$/m.exec(block)?.[1];
    const ref = /^branch refs\/heads\/(.+)$/m.exec(block)?.[1];
    if (dir) list.push({ dir, branch: ref });
  }
  return list;
}

export interface BranchStatus {
  branch: string;
  /** Commits on the branch that `into` does not have. */
  ahead: number;
  /** Commits on `into` that the branch does not have. */
  behind: number;
  /** `git diff --stat into...branch`, cut to a few lines. */
  diffStat: string;
  /** Files changed in the worktree but not committed. */
  uncommitted: string[];
}

/** What a teammate's branch holds against `into` (the lead's branch). */
export async function branchStatus(w: { repo: string; dir: string; branch: string }, into: string): Promise<BranchStatus> {
  const counts = (await git(w.repo, ["rev-list", "--left-right", "--count", `${into}...${w.branch}`])).stdout.trim().split(/\s+/).map(Number);
  const stat = (await git(w.repo, ["diff", "--stat", `${into}...${w.branch}`])).stdout.trimEnd().split("\n");
  const uncommitted = fs.existsSync(w.dir) ? (await git(w.dir, ["status", "--porcelain"], { reject: false })).stdout.split("\n").filter(Boolean).map((l) => l.slice(3)) : [];
  return { branch: w.branch, behind: counts[0] ?? 0, ahead: counts[1] ?? 0, diffStat: stat.length > 12 ? [...stat.slice(0, 10), "…", stat.at(-1)!].join("\n") : stat.join("\n"), uncommitted };
}

export interface MergeResult { merged: boolean; mode: "fast-forward" | "merge-commit" | "up-to-date"; commit?: string; conflicts?: string[]; message: string }

/**
 * Merges the teammate's branch into the repository's current branch (the
 * lead's). `ff`: fast-forward only. A conflict aborts the merge (the lead's
 * tree is as before) and names the files. Refused while the lead's tree has
 * uncommitted changes (a merge could mix them in).
 */
export async function mergeBranch(opts: { repo: string; branch: string; mode?: "ff" | "merge" }): Promise<MergeResult> {
  const { repo, branch } = opts;
  if ((await git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { reject: false })).exitCode !== 0) {
    throw new TeamsError("NOT_FOUND", `branch ${branch} does not exist in ${repo}; check_teammate shows the teammate's branch`);
  }
  // Porcelain lines are "XY path": the leading status column may be a space, so no trim before slicing.
  const dirty = (await git(repo, ["status", "--porcelain", "--untracked-files=no"])).stdout.split("\n").filter(Boolean);
  if (dirty.length) throw new TeamsError("CONFLICT", `the lead's working tree in ${repo} has uncommitted changes (${dirty.slice(0, 5).map((l) => l.slice(3)).join(", ")}); commit or stash them first, so that the merge cannot mix them in`);
  const into = (await git(repo, ["rev-parse", "--abbrev-ref", "HEAD"])).stdout.trim();
  const ahead = Number((await git(repo, ["rev-list", "--count", `${into}..${branch}`])).stdout.trim());
  if (ahead === 0) return { merged: false, mode: "up-to-date", message: `${branch} has nothing that ${into} lacks` };
  const canFf = (await git(repo, ["merge-base", "--is-ancestor", into, branch], { reject: false })).exitCode === 0;
  if (opts.mode === "ff" && !canFf) {
    throw new TeamsError("CONFLICT", `${branch} cannot be fast-forwarded into ${into} (both have new commits); merge with mode "merge"`);
  }
  const args = canFf && opts.mode !== "merge" ? ["merge", "--ff-only", branch] : ["merge", "--no-ff", "--no-edit", "-m", `Merge ${branch} (clanker-teams)`, branch];
  const r = await git(repo, args, { reject: false });
  if (r.exitCode !== 0) {
    const conflicts = (await git(repo, ["diff", "--name-only", "--diff-filter=U"], { reject: false })).stdout.split("\n").filter(Boolean);
    // Never leave a half merge behind.
    await git(repo, ["merge", "--abort"], { reject: false });
    return { merged: false, mode: canFf ? "fast-forward" : "merge-commit", conflicts, message: conflicts.length ? `merging ${branch} into ${into} conflicts in ${conflicts.join(", ")}; nothing was merged (the merge was aborted). Ask the teammate to merge ${into} into its branch and resolve them, then merge again.` : `git merge failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" ")}; nothing was merged` };
  }
  const commit = (await git(repo, ["rev-parse", "--short", "HEAD"])).stdout.trim();
  return { merged: true, mode: args.includes("--ff-only") ? "fast-forward" : "merge-commit", commit, message: `${branch} merged into ${into} (${args.includes("--ff-only") ? "fast-forward" : "merge commit"} ${commit})` };
}

/**
 * Removes the teammate's worktree. Its branch is deleted only when `into`
 * already has every commit of it; otherwise it is kept, and the result says so.
 */
export async function removeWorktree(w: { repo: string; dir: string; branch: string }, into?: string): Promise<{ removed: boolean; branchKept: boolean; note: string }> {
  const target = into ?? (await git(w.repo, ["rev-parse", "--abbrev-ref", "HEAD"])).stdout.trim();
  let removed = false;
  if (fs.existsSync(w.dir)) {
    removed = (await git(w.repo, ["worktree", "remove", "--force", w.dir], { reject: false })).exitCode === 0;
  }
  await git(w.repo, ["worktree", "prune"], { reject: false });
  const exists = (await git(w.repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${w.branch}`], { reject: false })).exitCode === 0;
  if (!exists) return { removed, branchKept: false, note: "" };
  const unmerged = Number((await git(w.repo, ["rev-list", "--count", `${target}..${w.branch}`])).stdout.trim());
  if (unmerged > 0) return { removed, branchKept: true, note: `branch ${w.branch} kept: it has ${unmerged} commit(s) ${target} does not (teammate_merge merges them)` };
  await git(w.repo, ["branch", "-D", w.branch], { reject: false });
  return { removed, branchKept: false, note: `branch ${w.branch} deleted (fully merged)` };
}
