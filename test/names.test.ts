/** Names that look like other names: NFC, invisible characters, confusable members, names that are Object.prototype keys. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { validateName } from "../src/names.js";
import { skeleton } from "../src/confusables.js";
import { addMember, readTeam } from "../src/domain/teams.js";
import { readInbox, sendMessage } from "../src/domain/messages.js";
import { callTool } from "../src/tools/table.js";
import { TeamsError } from "../src/errors.js";
import { cleanupTemp, cli, teamWith, world } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

const NFC = "jos\u00e9";
const NFD = "jose\u0301";
const CYRILLIC_E = "t\u0435am-lead"; // е U+0435

async function err(p: Promise<unknown> | (() => unknown)): Promise<TeamsError> {
  try { await (typeof p === "function" ? p() : p); } catch (e) { return e as TeamsError; }
  throw new Error("expected an error");
}

describe("validateName: one NFC form, nothing hidden", () => {
  it("returns names in NFC, so both spellings of josé are one name", () => {
    expect(NFC).not.toBe(NFD);
    expect(validateName("name", NFD)).toBe(NFC);
    expect(validateName("name", NFC)).toBe(NFC);
  });

  it.each([
    ["team-lead\u200d", "U+200D", 10], // zero-width joiner
    ["team\u200b-lead", "U+200B", 5], // zero-width space
    ["a\u200cb", "U+200C", 2], // zero-width non-joiner
    ["\u202edev", "U+202E", 1], // right-to-left override
    ["dev\u2066x\u2069", "U+2066", 4], // left-to-right isolate
    ["dev\u200f", "U+200F", 4], // right-to-left mark
    ["a\u00adb", "U+00AD", 2], // soft hyphen
    ["a\u2060b", "U+2060", 2], // word joiner
    ["\ufeffdev", "U+FEFF", 1], // byte order mark
    ["a\u115fb", "U+115F", 2], // Hangul choseong filler
    ["a\u3164b", "U+3164", 2], // Hangul filler
    ["api\ufe0f", "U+FE0F", 4], // variation selector
    ["api\u{e0041}", "U+E0041", 4], // tag character
    ["a\u2800b", "U+2800", 2], // braille blank
    ["team\u00a0lead", "U+00A0", 5], // no-break space
    ["a\u2029b", "U+2029", 2], // paragraph separator
    ["a\ue000b", "U+E000", 2], // private use
  ])("refuses %j naming the field, the character and the fix", (name, code, at) => {
    const e = (() => { try { validateName("name", name); } catch (x) { return x as TeamsError; } throw new Error("accepted"); })();
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(new RegExp(`^name: contains (a|an) [^(]+ \\(${code.replace("+", "\\+")}\\) at character ${at}; (remove it|use a plain space or '-')`));
  });

  it("still accepts visible non-ASCII names", () => {
    for (const n of ["naïve-ünïcödé", "日本語", "emoji-🚀", "Ωmega", "дев"]) expect(validateName("name", n)).toBe(n);
  });
});

describe("skeleton", () => {
  it.each([
    ["team-lead", CYRILLIC_E], ["team-lead", "TEAM-LEAD"], ["team-lead", "team-Iead"], ["team-lead", "tеаm-lеаd"],
    ["team-lead", "ｔｅａｍ－ｌｅａｄ"], ["team-lead", "𝐭𝐞𝐚𝐦-𝐥𝐞𝐚𝐝"], ["team-lead", "team\u2010lead"], ["team-lead", "tearn-lead"],
    ["api", "αpi"], ["api", "аpі"], ["owen", "0wen"], ["owen", "ovven"], ["bob", "Воb"], ["paul", "ραul"], ["dev1", "devl"], ["dev", "clev"],
  ])("%j and %j look alike", (a, b) => {
    expect(skeleton(a)).toBe(skeleton(b));
  });
  it.each([["jose", NFC], ["api", "apk"], ["dev", "deb"], ["qa", "qa2"], ["ui", "u1x"]])("%j and %j do not", (a, b) => {
    expect(skeleton(a)).not.toBe(skeleton(b));
  });
});

describe("members that look like another member or the lead", () => {
  it.each([
    [CYRILLIC_E, /^name: "tеam-lead" looks like the lead "team-lead" \(U\+0435 looks like "e"\); choose a clearly different name/],
    ["TEAM-lead", /^name: "TEAM-lead" looks like the lead "team-lead" \(names are case-insensitive\)/],
    ["team-Iead", /^name: "team-Iead" looks like the lead "team-lead" \("I" looks like "l"\)/],
    ["ｔｅａｍ－ｌｅａｄ", /^name: .* looks like the lead "team-lead"/],
    ["team-lead\u200d", /^name: contains an invisible character \(U\+200D\) at character 10/],
    ["\u0430pi", /^name: "аpi" looks like member "api" \(U\+0430 looks like "a"\)/],
    [NFD, /^name: "josé" is already taken by member "josé"/],
    ["Api", /^name: "Api" is already taken by member "api" \(names are case-insensitive\)/],
  ])("%j is refused, naming the member it looks like", async (name, msg) => {
    const w = world();
    await teamWith(w, "t", ["api", NFC]);
    const e = await err(addMember(w.as(), "t", { name, role: "teammate" }));
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(msg);
    expect((await readTeam(w.as(), "t")).members.map((m) => m.name)).toEqual(["team-lead", "api", NFC]);
  });

  it("distinct names are still accepted, stored in NFC", async () => {
    const w = world();
    await teamWith(w, "t", ["api"]);
    for (const n of ["apis", "jose", NFD, "lead", "team-leader"]) await addMember(w.as(), "t", { name: n, role: "teammate" });
    expect((await readTeam(w.as(), "t")).members.map((m) => m.name)).toEqual(["team-lead", "api", "apis", "jose", NFC, "lead", "team-leader"]);
  });

  it("a look-alike recipient, owner or caller is refused naming the member it looks like; another NFC spelling reaches the member", async () => {
    const w = world();
    await teamWith(w, "t", ["api", NFC]);
    const toLead = await err(callTool(w.as("api"), "send_message", { team_name: "t", recipient: CYRILLIC_E, content: "c", summary: "s" }));
    expect(toLead.message).toMatch(/^recipient: "tеam-lead" is not a member of team "t"; members: team-lead, api, josé\. It only looks like member "team-lead" \(U\+0435 looks like "e"\)/);
    const owner = await err(callTool(w.as(), "task_create", { team_name: "t", subject: "s", description: "", owner: "\u0430pi" }));
    expect(owner.message).toMatch(/^owner: "аpi" is not a member .* looks like member "api"/);
    const caller = await err(callTool(w.as("\u0430pi"), "task_create", { team_name: "t", subject: "s", description: "" }));
    expect(caller.message).toMatch(/^caller \(your identity\): "аpi" is not a member .* looks like member "api"/);
    await callTool(w.as(), "send_message", { team_name: "t", recipient: NFD, content: "hi", summary: "s" });
    expect((await readInbox(w.as(NFC), "t")).messages.map((m) => [m.to, m.content])).toEqual([[NFC, "hi"]]);
  });
});

describe("member names that are Object.prototype keys", () => {
  it("__proto__, constructor, hasOwnProperty and toString are plain members: mail, files and another process agree", async () => {
    const w = world();
    const names = ["__proto__", "constructor", "hasOwnProperty", "toString", "dev"];
    await teamWith(w, "t", names);
    for (const n of names) {
      await sendMessage(w.as(), "t", { recipient: n, content: `hi ${n}`, summary: "s" });
      await sendMessage(w.as(), "t", { recipient: n, content: `again ${n}`, summary: "s" });
      expect((await readInbox(w.as(n), "t")).messages.map((m) => m.content)).toEqual([`hi ${n}`, `again ${n}`]);
      await sendMessage(w.as(), "t", { recipient: n, content: "third", summary: "s" });
    }
    await w.flush();
    for (const n of names) {
      const file = JSON.parse(fs.readFileSync(w.layout.inbox("t", n), "utf8")) as { messages: { content: string; read: boolean }[] };
      expect(file.messages.map((m) => [m.content, m.read])).toEqual([[`hi ${n}`, true], [`again ${n}`, true], ["third", false]]);
    }
    // Another process replays the log from scratch: the same inboxes.
    for (const n of ["__proto__", "constructor"]) {
      const r = await cli(["call", "read_inbox", '{"team_name":"t"}', "--as", n], { dir: w.dir });
      expect(JSON.parse(r.stdout).details.messages.map((m: { content: string }) => m.content)).toEqual(["third"]);
    }
    expect((await readInbox(w.as("toString"), "t")).messages.map((m) => m.content)).toEqual(["third"]);
  });
});
