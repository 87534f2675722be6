/**
 * Hostile text on a person's terminal: whatever an agent writes (subjects,
 * descriptions, team descriptions, models, names, summaries, event data)
 * reaches `status`, `watch`, `call`, errors and the demo board only with its
 * control and invisible characters shown as escapes (src/text/safe.ts).
 */
import { afterAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { CLI, cleanupTemp, cli, until, world, type World } from "./helpers/fixtures.js";
import { callTool } from "../src/tools/table.js";
import { addMember, createTeam } from "../src/domain/teams.js";
import { appendEvent, readEvents } from "../src/domain/events.js";
import { renderBoard } from "../src/demo/run.js";
import { cell, cut, displayWidth, jsonForTerminal, visible, visibleBlock } from "../src/text/safe.js";

afterAll(cleanupTemp);

// What an agent might write: set the window title (OSC 0), clear the screen, write the clipboard (OSC 52),
// return the cursor (CR), forge a table row (newline), reverse the text (U+202E), hide a character (U+200B).
const SUBJECT = "A\x1b]0;pwned\x07B\x1b[2JC\rD\u202eE\n#9 done mallory";
const SUBJECT_SHOWN = String.raw`A\x1b]0;pwned\x07B\x1b[2JC\rD\u202eE\n#9 done mallory`;
const CLIP = "copy\x1b]52;c;cHduZWQ=\x07me";
const CLIP_SHOWN = String.raw`copy\x1b]52;c;cHduZWQ=\x07me`;
const DESC = "team\x1b]0;t\x07 desc\u2066";
const DESC_SHOWN = String.raw`team\x1b]0;t\x07 desc\u2066`;
const MODEL = "gpt\x1b[2J\u200bx";
const MODEL_SHOWN = String.raw`gpt\x1b[2J\u200bx`;
const SUMMARY = "hi\x1b]0;x\x07\r\n#1 forged\u009b2J";
const SUMMARY_SHOWN = String.raw`hi\x1b]0;x\x07\r\n#1 forged\x9b2J`;

/** Bytes a terminal would act on or hide; "\n" only separates our own lines. */
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;

async function hostileTeam(): Promise<World> {
  const w = world();
  const lead = w.as();
  await createTeam(lead, { team_name: "t", description: DESC });
  await addMember(lead, "t", { name: "dev", role: "teammate", model: MODEL });
  await callTool(lead, "task_create", { team_name: "t", subject: SUBJECT, description: "d\x1b]52;c;eA==\x07" });
  await callTool(lead, "task_create", { team_name: "t", subject: CLIP, description: "" });
  await callTool(lead, "task_create", { team_name: "t", subject: "x".repeat(100), description: "" });
  await callTool(lead, "send_message", { team_name: "t", recipient: "dev", content: "c", summary: SUMMARY });
  return w;
}

describe("text/safe", () => {
  it("shows controls, newlines and invisible characters as escapes; keeps emoji sequences and our newlines where asked", () => {
    expect(visible("a\x1b[31mb\x07\x00\x7f\x85\r\n\tc")).toBe(String.raw`a\x1b[31mb\x07\x00\x7f\x85\r\n\tc`);
    expect(visible("\u202aa\u202eb\u2066c\u2069d\u200be\u200df\ufeffg\u{e0041}")).toBe(String.raw`\u202aa\u202eb\u2066c\u2069d\u200be\u200df\ufeffg\u{e0041}`);
    expect(visible("team-lead\u200d")).toBe(String.raw`team-lead\u200d`);
    expect(visible("👩‍💻 ❤️ 漢字 é")).toBe("👩‍💻 ❤️ 漢字 é");
    expect(visible("a\ufe0f")).toBe(String.raw`a\ufe0f`);
    expect(visibleBlock("two\nlines\r\x1b")).toBe(String.raw`two` + "\n" + String.raw`lines\r\x1b`);
    expect(visible(undefined)).toBe("");
  });

  it("cuts to a width with an ellipsis, counting wide characters twice", () => {
    expect(cut("abcdef", 6)).toBe("abcdef");
    expect(cut("abcdefg", 6)).toBe("abcde…");
    expect(cut("漢字漢字", 5)).toBe("漢字…");
    expect(displayWidth("\x1b[1m漢a\x1b[0m")).toBe(3);
    expect(cell("a\nb", 3)).toBe("a\\…");
  });

  it("jsonForTerminal leaves no raw control or format character and parses back to the same value", () => {
    const v = { s: SUBJECT + CLIP + MODEL + SUMMARY + "\u2028\u{e0041}a\ufe0f" };
    const text = jsonForTerminal(v, 2);
    expect(text).not.toMatch(RAW);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(v);
  });
});

describe("status", () => {
  it("prints every agent-written string visibly, one line per row, with NO_COLOR", async () => {
    const w = await hostileTeam();
    const r = await cli(["status", "t"], { dir: w.dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`Team t — ${DESC_SHOWN}`);
    expect(lines).toContain(`dev        teammate  unknown  1       -     ${MODEL_SHOWN}`);
    const taskRows = lines.slice(lines.findIndex((l) => l.startsWith("ID ")));
    expect(taskRows).toEqual([
      "ID  STATUS   OWNER  SUBJECT",
      `#1  pending  -      ${SUBJECT_SHOWN}`,
      `#2  pending  -      ${CLIP_SHOWN}`,
      `#3  pending  -      ${"x".repeat(71)}…`,
    ]);
  });

  it("with colour forced, our SGR colours are the only escapes and the text is the same", async () => {
    const w = await hostileTeam();
    const [plain, coloured] = await Promise.all([
      cli(["status", "t"], { dir: w.dir }),
      cli(["status", "t"], { dir: w.dir, env: { FORCE_COLOR: "1", NO_COLOR: undefined } }),
    ]);
    expect(coloured.stdout).toMatch(SGR); // colour is on
    const stripped = coloured.stdout.replace(SGR, "");
    expect(stripped).not.toMatch(RAW);
    expect(stripped).toBe(plain.stdout);
  });

  it("--json output escapes what JSON.stringify leaves raw (C1, bidi, zero-width) and parses to the stored text", async () => {
    const w = await hostileTeam();
    const r = await cli(["status", "t", "--json"], { dir: w.dir });
    expect(r.stdout).not.toMatch(RAW);
    const d = JSON.parse(r.stdout);
    expect(d.description).toBe(DESC);
    expect(d.tasks.pending[0].subject).toBe(SUBJECT);
    expect(d.members[1].model).toBe(MODEL);
  });
});

describe("call and errors", () => {
  it("call prints JSON with every control character escaped; errors echo input visibly", async () => {
    const w = await hostileTeam();
    const got = await cli(["call", "task_get", '{"team_name":"t","task_id":"1"}'], { dir: w.dir });
    expect(got.exitCode).toBe(0);
    expect(got.stdout).not.toMatch(RAW);
    expect(JSON.parse(got.stdout).details.task).toMatchObject({ subject: SUBJECT, description: "d\x1b]52;c;eA==\x07" });
    const errs = await Promise.all([
      cli(["call", "task_get", JSON.stringify({ team_name: "t\x1b]0;x\x07", task_id: "1" })], { dir: w.dir }),
      cli(["\x1b[2Jstatus\u202e"], { dir: w.dir }),
      cli(["status", "gh\x1b]52;c;eA==\x07ost"], { dir: w.dir }),
      cli(["call", "no\x1b]0;x\x07pe", "{}"], { dir: w.dir }),
      cli(["status", "--js\x1bon"], { dir: w.dir }),
    ]);
    for (const e of errs) {
      expect(e.exitCode).toBe(1);
      expect(e.stderr).toMatch(/^clanker-teams: /);
      expect(e.stderr).not.toMatch(RAW);
    }
    expect(errs[1].stderr).toContain(String.raw`unknown command "\x1b[2Jstatus\u202e"`);
    expect(errs[3].stderr).toContain(String.raw`no\x1b]0;x\x07pe`);
  });
});

describe("watch", () => {
  it("prints each event on one line with agent text visible (NO_COLOR)", async () => {
    const w = await hostileTeam();
    // An event whose actor is not a valid name (an older version, a hand edit): shown visibly too.
    await appendEvent(w.as("ev\x1b]0;x\x07\u202ee"), "t", "custom.note", { text: "z\x1b]0;x\x07\u202e\n" });
    const child = execa(process.execPath, [CLI, "watch", "t", "--from", "0"], { env: { ...w.env, NO_COLOR: "1" }, reject: false });
    let out = "";
    child.stdout!.on("data", (b) => (out += b));
    const n = (await readEvents(w.as(), "t")).length;
    await until(() => out.split("\n").length > n, 10_000);
    child.kill("SIGTERM");
    await child;
    expect(out).not.toMatch(RAW);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(n); // no forged rows
    const what = (kind: string) => { const l = lines.find((x) => x.includes(` ${kind} `))!; return l.slice(l.indexOf(kind) + kind.length).trimStart(); };
    expect(lines.filter((l) => l.includes(" task.created ")).map((l) => l.replace(/^.*task\.created\s+/, ""))).toEqual([
      `task #1 created: ${SUBJECT_SHOWN}`,
      `task #2 created: ${CLIP_SHOWN}`,
      `task #3 created: ${"x".repeat(71)}…`,
    ]);
    expect(lines.filter((l) => l.endsWith(`team-lead → dev: ${SUMMARY_SHOWN}`))).toHaveLength(1);
    expect(what("team.created")).toBe(String.raw`{"description":"team\u001b]0;t\u0007 desc\u2066"}`);
    expect(what("member.added")).toBe(String.raw`{"name":"dev","role":"teammate","model":"gpt\u001b[2J\u200bx"}`);
    expect(what("custom.note")).toBe(String.raw`{"text":"z\u001b]0;x\u0007\u202e\n"}`);
    expect(lines.find((l) => l.includes("custom.note"))).toContain(String.raw`ev\x1b]0;x\x07\u202ee custom.note`);
  });

  it("--json lines escape control and format characters and parse back", async () => {
    const w = await hostileTeam();
    const child = execa(process.execPath, [CLI, "watch", "t", "--json", "--from", "0"], { env: w.env, reject: false });
    let out = "";
    child.stdout!.on("data", (b) => (out += b));
    const n = (await readEvents(w.as(), "t")).length;
    await until(() => out.split("\n").length > n, 10_000);
    child.kill("SIGTERM");
    await child;
    expect(out).not.toMatch(RAW);
    const events = out.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.find((e) => e.kind === "message.sent").data.summary).toBe(SUMMARY);
  });
});

describe("demo board", () => {
  it("renders members, tasks and messages visibly, one line per row", async () => {
    const w = world();
    const lead = w.as();
    await createTeam(lead, { team_name: "demo", description: DESC });
    await addMember(lead, "demo", { name: "dev", role: "teammate", model: MODEL });
    await callTool(lead, "task_create", { team_name: "demo", subject: SUBJECT, description: "" });
    await callTool(lead, "send_message", { team_name: "demo", recipient: "dev", content: "c", summary: SUMMARY });
    const board = await renderBoard(lead, await readEvents(lead, "demo"), new Set(), Date.now());
    expect(board).not.toMatch(RAW);
    expect(board.split("\n")).toContain(`#1    pending  -      ${SUBJECT_SHOWN}`);
    expect(board).toContain(`team-lead → dev: ${SUMMARY_SHOWN}`);
  });
});
