import { execFileSync } from "node:child_process";
// REAL processes: every example in docs/reference.md, docs/guide.md and README.md runs as written, in order,
// through the built CLI on a fresh data dir. spawn_teammate opens headless tmux panes on a private socket
// running the stand-in agent (test/fixtures/stand-in-agent.mjs); everything is killed in afterAll.
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { renderReference, referencePath } from "../dist/src/docs/reference.js";
import { tools } from "../dist/src/tools/table.js";
import { ROOT, cleanupTemp, cli, tempDir } from "./helpers/fixtures.js";
import { extractExamples, parseExample, shellWords, type DocExample } from "./helpers/doc-examples.js";

const STANDIN = path.join(ROOT, "test", "fixtures", "stand-in-agent.mjs");
const TOOLS = new Set(tools.map((t) => t.name));
const sockets: string[] = [];
const pids = new Set<number>();

afterAll(async () => {
  for (const pid of pids) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  for (const s of sockets) await execa("tmux", ["-S", s, "kill-server"], { reject: false });
  cleanupTemp();
});

describe("docs/reference.md", () => {
  it("is up to date with the tool table (run `npm run docs`)", () => {
    expect(fs.readFileSync(referencePath(), "utf8")).toBe(renderReference());
  });
  it("documents every tool and every parameter", () => {
    const text = fs.readFileSync(referencePath(), "utf8");
    for (const t of tools) {
      expect(text).toContain(`## ${t.name}`);
      for (const k of Object.keys(t.params.shape)) expect(text).toContain(`\`${k}\``);
    }
  });
});

describe("example extraction", () => {
  it("reads the three forms and refuses a call that does not parse", () => {
    expect(parseExample(`clanker-teams call task_get '{"team_name":"it'\\''s","task_id":"1"}' --as dev  # comment`, TOOLS)?.argv)
      .toEqual(["call", "task_get", '{"team_name":"it\'s","task_id":"1"}', "--as", "dev"]);
    expect(parseExample(`task_claim {"team_name": "shop"}   // as api: → #2`, TOOLS)).toEqual({ source: `task_claim {"team_name": "shop"}   // as api: → #2`, argv: ["call", "task_claim", '{"team_name":"shop"}', "--as", "api"], expectTaskId: "2" });
    expect(parseExample(`task_create(team_name="s", subject="a (b)", blocked_by=["1"], n=2) → #3`, TOOLS)).toMatchObject({ argv: ["call", "task_create", '{"team_name":"s","subject":"a (b)","blocked_by":["1"],"n":2}'], expectTaskId: "3" });
    expect(parseExample("clanker-teams call <tool> '<json>' [--as NAME]", TOOLS)).toBeUndefined();
    expect(parseExample("clanker-teams status signup", TOOLS)).toBeUndefined();
    expect(parseExample("not_a_tool {}", TOOLS)).toBeUndefined();
    expect(() => parseExample(`task_get {"team_name": "t", "task_id": 1`, TOOLS)).toThrow(/does not parse/);
    expect(shellWords(`a 'b c' "d\\"e" f\\ g # h`)).toEqual(["a", "b c", 'd"e', "f g"]);
  });
});

/** Runs a document's examples in order on a fresh data dir and work dir; returns how many ran. */
async function runDoc(rel: string): Promise<{ examples: DocExample[]; ran: number }> {
  const examples = extractExamples(fs.readFileSync(path.join(ROOT, rel), "utf8"), TOOLS);
  const dir = tempDir("clanker-docs-data-");
  const work = tempDir("clanker-docs-work-");
  fs.mkdirSync(path.join(work, "web")); // the guide's repo has a web/ folder (spawn_teammate cwd "./web")
  // ... and is a git repository with a commit (isolation "worktree" branches from it).
  fs.writeFileSync(path.join(work, "web", "README.md"), "shop\n");
  const gitId = { GIT_AUTHOR_NAME: "docs", GIT_AUTHOR_EMAIL: "docs@example.invalid", GIT_COMMITTER_NAME: "docs", GIT_COMMITTER_EMAIL: "docs@example.invalid" };
  for (const a of [["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "start"]]) execFileSync("git", a, { cwd: work, env: { ...process.env, ...gitId } });
  const socket = path.join(tempDir("clanker-docs-tmux-"), "tmux.sock");
  sockets.push(socket);
  const env = {
    CLANKER_TEAMS_TERMINAL: "headless",
    CLANKER_TEAMS_TMUX_SOCKET: socket,
    CLANKER_TEAMS_AGENT_CMD: JSON.stringify([process.execPath, STANDIN]),
    CLANKER_SHUTDOWN_GRACE_MS: "10000",
  };
  let ran = 0;
  for (const ex of examples) {
    const r = await cli(ex.argv, { dir, cwd: work, env });
    const where = `${rel}:${ex.line}: ${ex.source}`;
    if (r.exitCode !== 0) throw new Error(`${where}\n  failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`);
    const out = JSON.parse(String(r.stdout)) as { ok: boolean; text: string; details: { task?: { id: string } | null; pane?: { pid?: number } } };
    expect(out.ok, where).toBe(true);
    if (out.details.pane?.pid) pids.add(out.details.pane.pid);
    if (ex.expectTaskId) expect(out.details.task?.id, `${where}\n  ${out.text}`).toBe(ex.expectTaskId);
    ran++;
  }
  return { examples, ran };
}

describe("documented examples run as written, in order, on a fresh data dir", () => {
  it("docs/reference.md: every tool's examples, as one session", async () => {
    const { examples, ran } = await runDoc("docs/reference.md");
    // Every tool has an example here, and the first one is the example error messages show.
    for (const t of tools) expect(examples.some((e) => e.argv[1] === t.name && e.argv[2] === JSON.stringify(t.example)), t.name).toBe(true);
    expect(ran).toBe(examples.length);
  }, 240_000);

  it("docs/guide.md: every workflow", async () => {
    const { examples, ran } = await runDoc("docs/guide.md");
    expect(examples.length).toBeGreaterThanOrEqual(25);
    // Teammates' calls run as the teammate, the rest as the lead.
    expect(examples.filter((e) => e.argv.includes("--as")).length).toBeGreaterThanOrEqual(8);
    expect(ran).toBe(examples.length);
  }, 240_000);

  it("README.md: the first session and the troubleshooting call", async () => {
    const { examples, ran } = await runDoc("README.md");
    expect(examples.map((e) => e.argv[1])).toEqual(["team_create", "task_create", "task_create", "spawn_teammate", "spawn_teammate", "task_update", "read_inbox"]);
    expect(ran).toBe(examples.length);
  }, 240_000);
});
