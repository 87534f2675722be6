/** A corpus of bad input through callTool: each gets a clear error naming the field, and nothing stored changes. */
import { beforeAll, afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { callTool } from "../../src/tools/table.js";
import { TeamsError } from "../../src/errors.js";
import { cleanupTemp, snapshot, teamWith, world, type World } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

const BIG = "x".repeat(10 * 1024 * 1024);
const NAMES: [string, string][] = [["../x", "'/'"], ["a/b", "'/'"], ["", "empty"], ["a\u0000b", "control character"], ["a\nb", "control character"], ["a\u001bb", "control character"], ["x".repeat(65), "at most 64"], [".hidden", "'.'"], ["index", "reserved"]];

type Case = [label: string, as: string, tool: string, args: unknown, expected: RegExp];
const cases: Case[] = [
  ...NAMES.flatMap(([n, why]): Case[] => [
    [`team_create team_name ${JSON.stringify(n)}`, "team-lead", "team_create", { team_name: n }, new RegExp(`^team_name: .*${why}`)],
    [`task_list team_name ${JSON.stringify(n)}`, "team-lead", "task_list", { team_name: n }, /^team_name: /],
    [`send_message recipient ${JSON.stringify(n)}`, "team-lead", "send_message", { team_name: "t", recipient: n, content: "c", summary: "s" }, /^recipient: /],
    // "" is meaningful below (owner "" = unassigned, agent_name "" = yours), so only the other names.
    ...(n === "" ? [] : [
      [`task_create owner ${JSON.stringify(n)}`, "team-lead", "task_create", { team_name: "t", subject: "s", description: "", owner: n }, /^owner: /],
      [`read_inbox agent_name ${JSON.stringify(n)}`, "team-lead", "read_inbox", { team_name: "t", agent_name: n, unread_only: false }, /^agent_name: /],
      [`caller ${JSON.stringify(n)}`, n, "send_message", { team_name: "t", recipient: "dev", content: "c", summary: "s" }, /^sender \(your identity\): /],
    ] as Case[]),
  ]),
  ["unknown recipient", "team-lead", "send_message", { team_name: "t", recipient: "ghost", content: "c", summary: "s" }, /^recipient: "ghost" is not a member of team "t"; members: team-lead, dev, qa/],
  ["10 MB content", "team-lead", "send_message", { team_name: "t", recipient: "dev", content: BIG, summary: "s" }, /^content: is 10485760 bytes; the limit is 262144 bytes/],
  ["10 MB broadcast", "team-lead", "broadcast_message", { team_name: "t", content: BIG, summary: "s" }, /^content: is 10485760 bytes/],
  ["10 MB description", "team-lead", "task_create", { team_name: "t", subject: "s", description: BIG }, /^description: is 10485760 bytes/],
  ["10 MB update", "dev", "task_update", { team_name: "t", task_id: "1", description: BIG }, /^description: is 10485760 bytes/],
  ["10 MB plan", "dev", "task_submit_plan", { team_name: "t", task_id: "1", plan: BIG }, /^plan: is 10485760 bytes/],
  ["10 MB subject", "team-lead", "task_create", { team_name: "t", subject: BIG, description: "" }, /^subject: is 10485760 characters/],
  ["NUL in content", "team-lead", "send_message", { team_name: "t", recipient: "dev", content: "a\u0000b", summary: "s" }, /^content: contains a NUL/],
  ["NUL in summary", "team-lead", "send_message", { team_name: "t", recipient: "dev", content: "c", summary: "\u0000" }, /^summary: /],
  ["NUL in subject", "team-lead", "task_update", { team_name: "t", task_id: "1", subject: "a\u0000" }, /^subject: contains a NUL/],
  ["empty content", "team-lead", "send_message", { team_name: "t", recipient: "dev", content: "  ", summary: "s" }, /^content: must not be empty/],
  ["empty subject", "team-lead", "task_create", { team_name: "t", subject: "", description: "" }, /^subject: must not be empty/],
  ["unknown status (update)", "team-lead", "task_update", { team_name: "t", task_id: "1", subject: "changed", status: "done" }, /status: must be one of pending, planning, in_progress, completed, deleted \(got "done"\)/],
  ["unknown status (list)", "team-lead", "task_list", { team_name: "t", status: "DELETED" }, /status: must be one of/],
  ["status of the wrong type", "team-lead", "task_update", { team_name: "t", task_id: "1", status: 5 }, /status: /],
  ["create as completed", "team-lead", "task_create", { team_name: "t", subject: "s", description: "", status: "completed" }, /status: must be one of pending, planning, in_progress/],
  ["unknown task (get)", "team-lead", "task_get", { team_name: "t", task_id: "99" }, /^task_id: task "99" does not exist/],
  ["unknown task (update)", "team-lead", "task_update", { team_name: "t", task_id: "99", status: "completed" }, /^task_id: task "99" does not exist in team "t"; task_list shows the ids/],
  ["unknown task (claim)", "dev", "task_claim", { team_name: "t", task_id: "99" }, /^task_id: task "99" does not exist/],
  ["bad task id", "team-lead", "task_get", { team_name: "t", task_id: "../1" }, /^task_id: must be a task id/],
  ["negative task id", "team-lead", "task_update", { team_name: "t", task_id: -1, status: "completed" }, /^task_id: must be a task id/],
  ["huge task id", "team-lead", "task_get", { team_name: "t", task_id: 1e20 }, /^task_id: must be a task id/],
  ["missing task id", "team-lead", "task_get", { team_name: "t" }, /task_id: is required/],
  ["unknown blocker", "team-lead", "task_create", { team_name: "t", subject: "s", description: "", blocked_by: ["99"] }, /^blocked_by: task "99" does not exist/],
  ["bad blocker id", "team-lead", "task_update", { team_name: "t", task_id: "2", add_blocked_by: ["x"] }, /^add_blocked_by: must be a task id/],
  ["blockers not a list", "team-lead", "task_update", { team_name: "t", task_id: "2", add_blocked_by: "1" }, /add_blocked_by: /],
  ["cycle", "team-lead", "task_update", { team_name: "t", task_id: "1", add_blocked_by: ["2"] }, /blocked_by: task 1 blocked by 2 would make a dependency cycle/],
  ["unknown team", "team-lead", "task_list", { team_name: "nope" }, /team "nope" does not exist; teams: t/],
  ["existing team", "team-lead", "team_create", { team_name: "t" }, /team "t" already exists/],
  ["reject without feedback", "team-lead", "task_evaluate_plan", { team_name: "t", task_id: "1", action: "reject" }, /^feedback: is required/],
  ["unknown action", "team-lead", "task_evaluate_plan", { team_name: "t", task_id: "1", action: "meh" }, /action: must be one of approve, reject/],
  ["teammate assigns others", "dev", "task_update", { team_name: "t", task_id: "2", owner: "qa" }, /^owner: only team-lead assigns tasks/],
  ["teammate reads another inbox", "dev", "read_inbox", { team_name: "t", agent_name: "qa" }, /^agent_name: only the lead/],
  ["teammate edits another's task", "qa", "task_update", { team_name: "t", task_id: "1", status: "completed" }, /task 1 is owned by dev, not you \(qa\)/],
  ["arguments not an object", "team-lead", "task_list", ["t"], /arguments must be a JSON object/],
  ["missing required field", "team-lead", "send_message", { team_name: "t", recipient: "dev" }, /content: is required/],
  ["unknown tool", "team-lead", "task_explode", {}, /unknown tool "task_explode"/],
];

let w: World;
let before: Map<string, string>;

beforeAll(async () => {
  w = world();
  await teamWith(w, "t", ["dev", "qa"]);
  await callTool(w.as(), "task_create", { team_name: "t", subject: "first", description: "d", owner: "dev" });
  await callTool(w.as(), "task_create", { team_name: "t", subject: "second", description: "", blocked_by: ["1"] });
  await callTool(w.as("dev"), "task_submit_plan", { team_name: "t", task_id: "1", plan: "p" });
  await callTool(w.as("dev"), "send_message", { team_name: "t", recipient: "qa", content: "read one", summary: "s" });
  await callTool(w.as("qa"), "read_inbox", { team_name: "t" });
  await callTool(w.as("dev"), "send_message", { team_name: "t", recipient: "qa", content: "unread one", summary: "s" });
  await w.flush();
  before = snapshot(w.dir);
});

describe("bad input corpus", () => {
  it.each(cases)("%s: clear error naming the field; nothing stored changes", async (_label, as, tool, args, expected) => {
    let err: unknown;
    try { await callTool(w.as(as), tool, args); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TeamsError);
    const e = err as TeamsError;
    expect(["INVALID_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN"]).toContain(e.code);
    expect(e.message.length).toBeLessThan(2000); // never echoes 10 MB back
    expect(e.message).toMatch(expected);
    expect(snapshot(w.dir)).toEqual(before);
  });
});

describe("corrupt JSON on disk", () => {
  it("a corrupt derived file (task file, tasks.json, inbox) changes nothing a tool returns; the next change rewrites it", async () => {
    const w2 = world();
    await teamWith(w2, "t", ["dev"]);
    await callTool(w2.as(), "task_create", { team_name: "t", subject: "one", description: "" });
    await callTool(w2.as(), "task_create", { team_name: "t", subject: "two", description: "" });
    await callTool(w2.as(), "send_message", { team_name: "t", recipient: "dev", content: "hi", summary: "s" });
    await w2.flush();
    const l = w2.layout;
    for (const f of [l.taskFile("t", "2"), l.taskIndex("t"), l.inbox("t", "dev")]) fs.writeFileSync(f, '{"id": "2", "subj');
    expect((await callTool(w2.as(), "task_get", { team_name: "t", task_id: "2" })).details.task).toMatchObject({ id: "2", subject: "two" });
    expect((await callTool(w2.as(), "task_list", { team_name: "t" })).text).toContain("#2 [pending] two");
    expect((await callTool(w2.as("dev"), "read_inbox", { team_name: "t" })).details.messages).toMatchObject([{ content: "hi" }]);
    await callTool(w2.as(), "task_update", { team_name: "t", task_id: "2", status: "completed" });
    expect((await callTool(w2.as(), "task_create", { team_name: "t", subject: "three", description: "" })).details.task).toMatchObject({ id: "3" });
    await w2.flush();
    expect(JSON.parse(fs.readFileSync(l.taskFile("t", "2"), "utf8"))).toMatchObject({ id: "2", status: "completed" });
    expect(Object.keys(JSON.parse(fs.readFileSync(l.taskIndex("t"), "utf8")).tasks)).toEqual(["1", "2", "3"]);
    expect(JSON.parse(fs.readFileSync(l.inbox("t", "dev"), "utf8")).messages).toMatchObject([{ content: "hi", read: true }]);
  });

  it("a corrupt config: reported with its path, moved aside with its bytes, nothing else changes", async () => {
    const w2 = world();
    await teamWith(w2, "t", ["dev"]);
    await callTool(w2.as(), "task_create", { team_name: "t", subject: "one", description: "" });
    await w2.flush();
    const file = w2.layout.teamConfig("t");
    fs.writeFileSync(file, '{"name": "t", "memb');
    const pre = snapshot(w2.dir);
    const e = await callTool(w2.as(), "task_get", { team_name: "t", task_id: "1" }).then(() => undefined, (x) => x as TeamsError);
    expect(e?.code).toBe("CORRUPT");
    expect(e?.message).toContain(file);
    const aside = e!.details!.movedTo as string;
    expect(e?.message).toContain(aside);
    const post = snapshot(w2.dir);
    const rel = (p: string) => path.relative(w2.dir, p);
    expect(post.get(rel(aside))).toBe(pre.get(rel(file)));
    pre.delete(rel(file));
    post.delete(rel(aside));
    expect(post).toEqual(pre);
  });
});
