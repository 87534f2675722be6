import { afterAll, describe, expect, it } from "vitest";
import path from "node:path";
import os from "node:os";
import { MAX_NAME_LENGTH, validateName, validateTaskId } from "../src/names.js";
import { Layout } from "../src/store/json/layout.js";
import { dataDir } from "../src/store/open.js";
import { JsonStore } from "../src/store/json/index.js";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";
import { TeamsError } from "../src/errors.js";

afterAll(cleanupTemp);

function refused(v: unknown): TeamsError {
  try {
    validateName("team_name", v);
  } catch (e) {
    expect(e).toBeInstanceOf(TeamsError);
    return e as TeamsError;
  }
  throw new Error(`accepted ${JSON.stringify(v)}`);
}

describe("validateName", () => {
  it.each([
    ["../x"], ["a/b"], ["a\\b"], [""], ["x".repeat(MAX_NAME_LENGTH + 1)], ["a\u0000b"], ["a\nb"], ["tab\there"],
    [".hidden"], ["."], [".."], ["index"], ["INDEX"], ["archive"], ["runtime"], [" padded"], ["padded "], ["a\u2028b"], ["\u007f"],
  ])("refuses %j with an INVALID_INPUT error naming the field", (name) => {
    const e = refused(name);
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(/^team_name: /);
    expect(e.details?.field).toBe("team_name");
  });

  it("accepts the longest names whose derived file names still fit", () => {
    const p = new Layout("/tmp/x");
    for (const name of ["日".repeat(MAX_NAME_LENGTH), "x".repeat(MAX_NAME_LENGTH), "🚀".repeat(48)]) {
      validateName("agent_name", name);
      for (const file of [p.inbox("t", name), p.runtimeFile("t", name), p.archive("t", name), p.teamConfig(name)]) {
        const longest = `${file}.${process.pid}.abcdef01.tmp`.length > `${file}.corrupt-2026-01-01T12-00-00-000Z-abcd`.length ? `${file}.99999999.abcdef01.tmp` : `${file}.corrupt-2026-01-01T12-00-00-000Z-abcd`;
        expect(Buffer.byteLength(path.basename(longest))).toBeLessThanOrEqual(255);
        expect(Buffer.byteLength(path.basename(file) + ".lock")).toBeLessThanOrEqual(255);
      }
      expect(Buffer.byteLength(path.basename(p.namedLock("t", `spawn:${name}`)) + ".lock")).toBeLessThanOrEqual(255);
    }
  });

  it("a named lock (the spawn lock) on the longest name works", async () => {
    const store = new JsonStore({ dataDir: tempDir() });
    await store.createTeam({ name: "t", createdAt: new Date().toISOString(), leadName: "team-lead", members: [] });
    for (const name of ["日".repeat(MAX_NAME_LENGTH), "🚀".repeat(48), "x".repeat(MAX_NAME_LENGTH)]) {
      expect(await store.withLock("t", `spawn:${name}`, async () => "held")).toBe("held");
    }
    // Distinct long names are distinct locks; case does not matter, as before.
    const l = new Layout("/d");
    expect(l.namedLock("t", "日".repeat(64))).not.toBe(l.namedLock("t", "日".repeat(63) + "月"));
    expect(l.namedLock("t", "X".repeat(64) + "日".repeat(30))).toBe(l.namedLock("t", "x".repeat(64) + "日".repeat(30)));
  });

  it("refuses non-strings", () => {
    expect(refused(undefined).message).toContain("nothing");
    expect(refused(3).message).toContain("number");
  });

  it.each([
    ["backend-dev"], ["it's"], ['say "hi"'], ["$(rm -rf ~)"], ["a;b"], ["`x`"], ["naïve-ünïcödé"], ["日本語"], ["emoji-🚀"], ["x".repeat(MAX_NAME_LENGTH)], ["a b"], ["*"], ["-rf"],
  ])("accepts %j unchanged", (name) => {
    expect(validateName("agent_name", name)).toBe(name);
  });

  it("bounds names so every derived file name fits the file system (255 bytes)", () => {
    // 64 four-byte characters are 256 bytes: too long for any file name built from them.
    const wide = "🚀".repeat(MAX_NAME_LENGTH);
    let accepted = true;
    try { validateName("agent_name", wide); } catch (e) { accepted = false; expect((e as Error).message).toMatch(/agent_name/); }
    if (accepted) {
      const p = new Layout("/tmp/x");
      expect(Buffer.byteLength(path.basename(p.inbox("t", wide)) + ".lock")).toBeLessThan(256);
    }
  });
});

describe("validateTaskId", () => {
  it.each([["1"], ["42"], [7]])("accepts %j", (v) => expect(validateTaskId("task_id", v)).toBe(String(v)));
  it.each([["0"], ["-1"], ["1.5"], ["abc"], [""], ["../1"], ["01"], [null], [undefined], ["1; rm"]])("refuses %j naming the field", (v) => {
    expect(() => validateTaskId("task_id", v)).toThrow(/^task_id: /);
  });
});

describe("Layout (the documented files)", () => {
  const p = new Layout("/data");
  it("builds the documented layout", () => {
    expect(p.teamConfig("t")).toBe("/data/teams/t/config.json");
    expect(p.events("t")).toBe("/data/teams/t/events.jsonl");
    expect(p.runtimeFile("t", "a")).toBe("/data/teams/t/runtime/a.json");
    expect(p.segment("t", 3)).toBe("/data/teams/t/wal/000003.jsonl");
    expect(p.snapshot("t", 3)).toBe("/data/teams/t/wal/snapshot-000003.json");
    expect(p.materialized("t")).toBe("/data/teams/t/wal/materialized.json");
    expect(p.taskFile("t", "3")).toBe("/data/tasks/t/task_3.json");
    expect(p.taskIndex("t")).toBe("/data/tasks/t/tasks.json");
    expect(p.inbox("t", "a")).toBe("/data/messages/t/a.json");
    expect(p.archive("t", "a")).toBe("/data/messages/t/archive/a.jsonl");
    expect(p.docFile("t", "reservations")).toBe("/data/teams/t/docs/reservations.json");
  });
  it("validates every name it builds a path from; lock and document names cannot leave their directory", () => {
    expect(() => p.teamConfig("../etc")).toThrow(/team_name/);
    expect(() => p.inbox("t", "../../x")).toThrow(/agent_name/);
    expect(() => p.taskFile("t", "../1")).toThrow(/task_id/);
    expect(() => p.runtimeFile("t", "a/b")).toThrow(/agent_name/);
    expect(path.dirname(p.namedLock("t", "../../x"))).toBe("/data/teams/t/runtime");
    expect(path.basename(p.namedLock("t", ".."))).not.toMatch(/^\./);
    expect(path.dirname(p.docFile("t", "../x"))).toBe("/data/teams/t/docs");
  });
  it("dataDir: CLANKER_TEAMS_DIR, else ~/.clanker", () => {
    expect(dataDir({ CLANKER_TEAMS_DIR: "/tmp/some" })).toBe("/tmp/some");
    expect(dataDir({ CLANKER_TEAMS_DIR: "  " })).toBe(path.join(os.homedir(), ".clanker"));
    expect(dataDir({})).toBe(path.join(os.homedir(), ".clanker"));
  });
});
