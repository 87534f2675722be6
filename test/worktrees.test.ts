/** Worktree isolation with real git: a branch per teammate, status, merges (fast-forward, merge commit, conflicts aborted), removal keeping unmerged work. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { branchFor, branchStatus, createWorktree, mergeBranch, removeWorktree, slug } from "../src/agents/worktrees.js";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).trim();

function repo(): string {
  const d = tempDir("clanker-repo-");
  git(d, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(d, "a.txt"), "one\ntwo\nthree\n");
  git(d, "add", ".");
  git(d, "commit", "-qm", "start");
  return d;
}

describe("teammate worktrees", () => {
  it("a teammate's branch and worktree outside the repo; its commit is seen, merged by fast-forward, and the worktree removed with the merged branch", async () => {
    const r = repo();
    const base = tempDir("clanker-wt-");
    const w = await createWorktree({ cwd: r, baseDir: base, team: "t", name: "dev" });
    expect(w.branch).toBe("clanker/t/dev");
    expect(w.dir.startsWith(base)).toBe(true);
    expect(w.base).toBe("main");
    fs.writeFileSync(path.join(w.dir, "b.txt"), "new\n");
    git(w.dir, "add", ".");
    git(w.dir, "commit", "-qm", "dev work");
    fs.writeFileSync(path.join(w.dir, "c.txt"), "not committed\n");
    const st = await branchStatus(w, "main");
    expect(st).toMatchObject({ ahead: 1, behind: 0, uncommitted: ["c.txt"] });
    expect(st.diffStat).toMatch(/b\.txt \| 1 \+/);
    // Created again (a respawn): the same worktree and branch.
    expect((await createWorktree({ cwd: r, baseDir: base, team: "t", name: "dev" })).dir).toBe(w.dir);
    const m = await mergeBranch({ repo: r, branch: w.branch });
    expect(m).toMatchObject({ merged: true, mode: "fast-forward" });
    expect(fs.readFileSync(path.join(r, "b.txt"), "utf8")).toBe("new\n");
    const gone = await removeWorktree(w);
    expect(gone).toMatchObject({ removed: true, branchKept: false });
    expect(fs.existsSync(w.dir)).toBe(false);
    expect(git(r, "branch", "--list", w.branch)).toBe("");
  });

  it("diverged branches get a merge commit; a conflict names its files, aborts, and leaves the lead's tree and HEAD as they were", async () => {
    const r = repo();
    const base = tempDir("clanker-wt-");
    const a = await createWorktree({ cwd: r, baseDir: base, team: "t", name: "a" });
    const b = await createWorktree({ cwd: r, baseDir: base, team: "t", name: "b" });
    fs.writeFileSync(path.join(a.dir, "a.txt"), "one\nTWO by a\nthree\n");
    git(a.dir, "commit", "-qam", "a edits line 2");
    fs.writeFileSync(path.join(b.dir, "a.txt"), "one\nTWO by b\nthree\n");
    git(b.dir, "commit", "-qam", "b edits line 2");
    fs.writeFileSync(path.join(r, "lead.txt"), "lead\n");
    git(r, "add", ".");
    git(r, "commit", "-qm", "lead work");
    await expect(mergeBranch({ repo: r, branch: a.branch, mode: "ff" })).rejects.toThrow(/cannot be fast-forwarded/);
    const ma = await mergeBranch({ repo: r, branch: a.branch });
    expect(ma).toMatchObject({ merged: true, mode: "merge-commit" });
    const head = git(r, "rev-parse", "HEAD");
    const mb = await mergeBranch({ repo: r, branch: b.branch });
    expect(mb.merged).toBe(false);
    expect(mb.conflicts).toEqual(["a.txt"]);
    expect(mb.message).toMatch(/conflicts in a\.txt; nothing was merged/);
    expect(git(r, "rev-parse", "HEAD")).toBe(head);
    expect(git(r, "status", "--porcelain")).toBe("");
    expect(fs.existsSync(path.join(r, ".git", "MERGE_HEAD"))).toBe(false);
    // Unmerged work is never thrown away with the teammate.
    const kept = await removeWorktree(b);
    expect(kept.branchKept).toBe(true);
    expect(kept.note).toMatch(/kept: it has 1 commit/);
    expect(git(r, "branch", "--list", b.branch)).toContain(b.branch);
  });

  it("refuses to merge into a dirty tree, and a teammate outside a repository", async () => {
    const r = repo();
    const w = await createWorktree({ cwd: r, baseDir: tempDir(), team: "t", name: "d" });
    fs.writeFileSync(path.join(w.dir, "x"), "x");
    git(w.dir, "add", ".");
    git(w.dir, "commit", "-qm", "x");
    fs.writeFileSync(path.join(r, "a.txt"), "changed, not committed\n");
    await expect(mergeBranch({ repo: r, branch: w.branch })).rejects.toThrow(/uncommitted changes \(a\.txt\)/);
    await expect(createWorktree({ cwd: tempDir(), baseDir: tempDir(), team: "t", name: "d" })).rejects.toThrow(/isolation: "worktree" needs a git repository/);
  });

  it("hostile names make valid branch and directory names, distinct for distinct names", async () => {
    const names = ["back end", "dev..x", ".hidden", "x.lock", "josé", "a;rm -rf", "日本"];
    const slugs = names.map(slug);
    expect(new Set(slugs).size).toBe(names.length);
    const r = repo();
    for (const n of names) {
      expect(() => git(r, "check-ref-format", "--branch", branchFor("my team", n))).not.toThrow();
      expect(slug(n)).not.toMatch(/[\/\s;]|\.\./);
    }
  });
});
