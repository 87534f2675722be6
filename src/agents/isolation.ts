/**
 * Isolation of a teammate's work: "shared" (the directory it was given) or
 * "worktree" (a git worktree and branch of its own, worktrees.ts). Spawning
 * prepares it, check_teammate shows the branch and its diff, teammate_merge
 * merges it into the lead's branch, removing the teammate removes the
 * worktree but keeps a branch with unmerged work (and a worktree with
 * uncommitted changes), and says so.
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { appendEvent } from "../domain/events.js";
import { findMember, isLead, readTeam } from "../domain/teams.js";
import { LEAD_NAME, validateName } from "../names.js";
import type { Member, TeamConfig } from "../schemas.js";
import { dataDir } from "../store/open.js";
import { branchStatus, createWorktree, mergeBranch, removeWorktree, repoRoot, worktreeDir, type BranchStatus, type MergeResult } from "./worktrees.js";

export type Isolation = "shared" | "worktree";
/** The env var that tells a worktree teammate's hook runner where the main checkout is (hooks not committed are found there). */
export const MAIN_REPO_ENV = "CLANKER_TEAMS_MAIN_REPO";

/** Where worktrees go: the team's `worktreeDir`, else `<data dir>/worktrees`. */
export function worktreeBase(ctx: Ctx, cfg: TeamConfig): string {
  if (cfg.worktreeDir) return path.resolve(ctx.cwd, cfg.worktreeDir);
  return path.join(ctx.store.kind === "json" ? ctx.store.location : dataDir(ctx.env), "worktrees");
}

export interface IsolationPlan {
  /** Where the teammate starts. */
  cwd: string;
  /** Fields for its member entry. */
  member: Partial<Member>;
  /** Extra environment for it. */
  env: Record<string, string>;
  /** A worktree made by this call (to remove again if the spawn fails); false when it existed. */
  created: boolean;
}

/** Prepares a teammate's isolation: for "worktree" creates (or reuses) its worktree and starts it at the same place inside it. */
export async function planIsolation(ctx: Ctx, cfg: TeamConfig, team: string, name: string, cwd: string, isolation?: Isolation): Promise<IsolationPlan> {
  const mode = isolation ?? cfg.isolation ?? "shared";
  if (mode !== "shared" && mode !== "worktree") throw invalid("isolation", `must be "shared" or "worktree" (got ${JSON.stringify(mode)})`);
  if (mode === "shared") return { cwd, member: isolation ? { isolation: "shared" } : {}, env: {}, created: false };
  const repo = await repoRoot(cwd);
  const subdir = path.relative(repo, fs.realpathSync(cwd));
  const base = worktreeBase(ctx, cfg);
  const existed = fs.existsSync(worktreeDir(base, repo, team, name));
  const w = await createWorktree({ cwd: repo, baseDir: base, team, name });
  const dir = path.join(w.dir, subdir);
  // A directory the branch does not track (empty, or ignored) is not in the new checkout.
  fs.mkdirSync(dir, { recursive: true });
  return { cwd: dir, member: { isolation: "worktree", worktree: { repo, dir: w.dir, branch: w.branch, base: w.base, ...(subdir ? { subdir } : {}) } }, env: { [MAIN_REPO_ENV]: repo }, created: !existed };
}

async function currentBranch(repo: string): Promise<string> {
  const r = await execa("git", ["rev-parse", "--abbrev-ref", "HEAD"], { cwd: repo, reject: false, env: { LC_ALL: "C" } });
  if (r.exitCode !== 0) throw new TeamsError("IO", `cannot read the current branch of ${repo}: ${String(r.stderr).trim()}`);
  return String(r.stdout).trim();
}

export interface WorktreeStatus extends BranchStatus { dir: string; into: string }

/** The teammate's branch against the lead's current branch; undefined for a shared teammate. A broken repository is reported in `error`. */
export async function worktreeStatus(m: Member): Promise<WorktreeStatus | { error: string } | undefined> {
  const w = m.worktree;
  if (!w) return undefined;
  try {
    const into = await currentBranch(w.repo);
    return { ...(await branchStatus(w, into)), dir: w.dir, into };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** One line (and the diff stat) for check_teammate. */
export function fmtWorktree(s: WorktreeStatus | { error: string }): string {
  if ("error" in s) return `worktree: ${s.error}`;
  const dirty = s.uncommitted.length ? `; ${s.uncommitted.length} uncommitted: ${s.uncommitted.slice(0, 5).join(", ")}${s.uncommitted.length > 5 ? ", …" : ""}` : "";
  return `branch ${s.branch}: ${s.ahead} ahead, ${s.behind} behind ${s.into}${dirty}${s.diffStat ? `\n${s.diffStat}` : ""}`;
}

function requireWorktreeMember(cfg: TeamConfig, name: string): Member & { worktree: NonNullable<Member["worktree"]> } {
  validateName("agent_name", name);
  const m = findMember(cfg, name);
  if (!m || m.role === "lead") throw new TeamsError("NOT_FOUND", `agent_name: "${name}" is not a teammate of team "${cfg.name}".`);
  if (!m.worktree) throw invalid("agent_name", `${name} works in the shared tree (isolation "shared"), so there is no branch to merge; spawn with isolation "worktree" to give a teammate its own branch`);
  return m as Member & { worktree: NonNullable<Member["worktree"]> };
}

/** Merges a worktree teammate's branch into the lead's current branch (lead only); uncommitted work in its worktree is named, not merged. */
export async function mergeTeammate(ctx: Ctx, team: string, name: string, mode?: "ff" | "merge"): Promise<MergeResult & { uncommitted: string[] }> {
  const cfg = await readTeam(ctx, team);
  if (!isLead(cfg, ctx.actor)) throw new TeamsError("FORBIDDEN", `only ${LEAD_NAME} merges teammates' branches; you are ${ctx.actor}.`);
  const m = requireWorktreeMember(cfg, name);
  const { repo, branch, dir } = m.worktree;
  const r = await mergeBranch({ repo, branch, mode });
  const uncommitted = fs.existsSync(dir) ? (await branchStatus(m.worktree, await currentBranch(repo))).uncommitted : [];
  await appendEvent(ctx, team, r.merged ? "teammate.merged" : "teammate.merge_failed", { name, branch, mode: r.mode, commit: r.commit, conflicts: r.conflicts?.length ? r.conflicts : undefined });
  return { ...r, uncommitted };
}

/**
 * Removes a teammate's worktree after it stopped: kept (with its branch) when
 * it has uncommitted changes; the branch is kept when it has commits the
 * lead's branch lacks. Returns what happened, for the caller's result ("" for a shared teammate).
 */
export async function retireWorktree(m: Member): Promise<string> {
  const w = m.worktree;
  if (!w) return "";
  try {
    if (fs.existsSync(w.dir)) {
      const st = await branchStatus(w, await currentBranch(w.repo));
      if (st.uncommitted.length) return `worktree ${w.dir} kept: ${st.uncommitted.length} uncommitted file(s) (${st.uncommitted.slice(0, 5).join(", ")}); branch ${w.branch} kept`;
    }
    return (await removeWorktree(w)).note;
  } catch (e) {
    return `worktree ${w.dir} left as it was: ${(e as Error).message}`;
  }
}
