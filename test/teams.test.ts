import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { addMember, createTeam, deleteTeam, listTeams, readTeam, removeMember, memberNames } from "../src/domain/teams.js";
import { createTask, getTask, listTasks } from "../src/domain/tasks.js";
import { readPresence, writePresence } from "../src/domain/presence.js";
import { makeCtx } from "../src/context.js";
import { JsonStore } from "../src/store/json/index.js";
import { readInbox, sendMessage } from "../src/domain/messages.js";
import { TeamsError } from "../src/errors.js";
import { cleanupTemp, cli, teamWith, tempDir, walk, world } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

async function err(p: Promise<unknown> | (() => unknown)): Promise<TeamsError> {
  try { await (typeof p === "function" ? p() : p); } catch (e) { return e as TeamsError; }
  throw new Error("expected an error");
}

describe("teams", () => {
  it("creates a team with the caller as lead; a second create conflicts", async () => {
    const w = world();
    const cfg = await createTeam(w.as(), { team_name: "alpha", description: "d", default_model: "m" });
    expect(cfg.members.map((m) => [m.name, m.role])).toEqual([["team-lead", "lead"]]);
    expect(await readTeam(w.as(), "alpha")).toMatchObject({ name: "alpha", description: "d", defaultModel: "m", leadName: "team-lead" });
    const e = await err(createTeam(w.as(), { team_name: "alpha" }));
    expect(e.code).toBe("CONFLICT");
    expect(await listTeams(w.as())).toEqual(["alpha"]);
  });

  it("an unknown team is NOT_FOUND and lists the existing teams", async () => {
    const w = world();
    await teamWith(w, "one");
    await teamWith(w, "two");
    const e = await err(readTeam(w.as(), "three"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toContain("one, two");
  });

  it("hostile team names are refused before anything is written", async () => {
    const w = world();
    for (const name of ["../x", "a/b", "", ".hidden", "index", "x\u0000y"]) {
      const e = await err(createTeam(w.as(), { team_name: name }));
      expect(e.code).toBe("INVALID_INPUT");
      expect(e.message).toMatch(/^team_name: /);
    }
    expect(fs.readdirSync(w.dir)).toEqual([]);
  });

  it("no name, however hostile, makes anything be written outside the data directory", async () => {
    const parent = tempDir();
    const data = path.join(parent, "data");
    const lead = makeCtx({ dataDir: data, actor: "team-lead", cwd: parent, runHook: async () => ({ ran: false, outcome: "missing" }) });
    await createTeam(lead, { team_name: "ok" });
    const hostile = ["../x", "../../x", "..", "/abs", "a/../../x", "x\u0000y", "..\\x", "./x"];
    for (const name of hostile) {
      await expect(createTeam(lead, { team_name: name })).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(addMember(lead, "ok", { name, role: "teammate" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(sendMessage(lead, "ok", { recipient: name, content: "c", summary: "s" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(sendMessage(makeCtx({ dataDir: data, actor: name }), "ok", { recipient: "team-lead", content: "c", summary: "s" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(readInbox(lead, name)).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(getTask(lead, "ok", name)).rejects.toMatchObject({ code: "INVALID_INPUT" });
    }
    await new JsonStore({ dataDir: data }).flush();
    expect(fs.readdirSync(parent)).toEqual(["data"]);
    for (const d of fs.readdirSync(data)) expect([d, fs.readdirSync(path.join(data, d))]).toEqual([d, ["ok"]]);
  });

  it("names with quotes, $(…), ; and unicode work end to end", async () => {
    const w = world();
    const team = `it's $(x); "ü"`;
    await teamWith(w, team, ["dev; rm -rf", "ünï 日本"]);
    await sendMessage(w.as(), team, { recipient: "ünï 日本", content: "hi", summary: "s" });
    expect((await readInbox(w.as("ünï 日本"), team)).messages).toHaveLength(1);
    expect(memberNames(await readTeam(w.as(), team))).toEqual(["team-lead", "dev; rm -rf", "ünï 日本"]);
  });

  it("member names are unique case-insensitively; the lead cannot be removed", async () => {
    const w = world();
    await teamWith(w, "t", ["Dev"]);
    expect((await err(addMember(w.as(), "t", { name: "dev", role: "teammate" }))).message).toMatch(/already taken by member "Dev"/);
    expect((await err(addMember(w.as(), "t", { name: "../x", role: "teammate" }))).message).toMatch(/^name: /);
    expect((await err(removeMember(w.as(), "t", "team-lead"))).code).toBe("INVALID_INPUT");
    expect(await removeMember(w.as(), "t", "Dev")).toBe(true);
    expect(await removeMember(w.as(), "t", "Dev")).toBe(false);
    expect((await readTeam(w.as(), "t")).members.map((m) => m.name)).toEqual(["team-lead"]);
  });

  it("replacing a member names the one it replaces: if another replaced it meanwhile, CONFLICT", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const dead = (await readTeam(w.as(), "t")).members.find((m) => m.name === "dev")!;
    const first = await addMember(w.as(), "t", { name: "dev", role: "teammate", model: "m1" }, { replace: dead.agentId });
    expect(first.agentId).not.toBe(dead.agentId);
    await expect(addMember(w.as(), "t", { name: "dev", role: "teammate", model: "m2" }, { replace: dead.agentId })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/replaced by another spawn meanwhile/) });
    expect((await readTeam(w.as(), "t")).members.filter((m) => m.name === "dev").map((m) => m.model)).toEqual(["m1"]);
  });

  it("delete removes config, tasks, inboxes and log; the name can be reused, starting fresh", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await createTask(w.as(), "t", { subject: "x", description: "" });
    await sendMessage(w.as(), "t", { recipient: "dev", content: "hi", summary: "s" });
    await deleteTeam(w.as(), "t");
    expect(await listTeams(w.as())).toEqual([]);
    for (const d of ["teams/t", "tasks/t", "messages/t"]) expect(fs.existsSync(`${w.dir}/${d}`)).toBe(false);
    await teamWith(w, "t", ["dev"]);
    const t = await createTask(w.as(), "t", { subject: "y", description: "" });
    expect(t.id).toBe("1");
    expect((await readInbox(w.as("dev"), "t")).messages).toHaveLength(0);
    await sendMessage(w.as(), "t", { recipient: "dev", content: "again", summary: "s" });
    expect((await readInbox(w.as("dev"), "t")).messages.map((m) => m.content)).toEqual(["again"]);
  });

  it("a team deleted and made again by another process: this process's heartbeats, named locks and edits go on working", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const store = new JsonStore({ dataDir: w.dir });
    await writePresence(w.as("dev"), "t", "dev", { state: "idle" });
    expect(await store.withLock("t", "spawn:dev", async () => 1)).toBe(1);
    await createTask(w.as(), "t", { subject: "old", description: "" });
    for (const args of [["call", "team_delete", '{"team_name":"t"}'], ["call", "team_create", '{"team_name":"t"}'], ["call", "task_create", '{"team_name":"t","subject":"new","description":""}']]) {
      expect((await cli(args, { dir: w.dir })).exitCode).toBe(0);
    }
    await writePresence(w.as("team-lead"), "t", "team-lead", { state: "idle" });
    expect((await readPresence(w.as(), "t", "team-lead"))?.state).toBe("idle");
    expect(await store.withLock("t", "spawn:dev", async () => 2)).toBe(2);
    await addMember(w.as(), "t", { name: "dev", role: "teammate" });
    expect((await createTask(w.as(), "t", { subject: "newer", description: "" })).id).toBe("2");
    expect((await listTasks(w.as(), "t")).map((t) => t.subject)).toEqual(["new", "newer"]);
  });

  it("a hand edit of config.json (in place, by an editor) is seen at once", async () => {
    const w = world();
    await teamWith(w, "t");
    expect((await readTeam(w.as(), "t")).description).toBe("test team");
    const file = w.layout.teamConfig("t");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"test team"', '"edit team"'));
    expect((await readTeam(w.as(), "t")).description).toBe("edit team");
  });

  it("a corrupt config is reported with its path and moved aside", async () => {
    const w = world();
    await teamWith(w, "t");
    const file = w.layout.teamConfig("t");
    fs.writeFileSync(file, "{ not json");
    const e = await err(readTeam(w.as(), "t"));
    expect(e.code).toBe("CORRUPT");
    expect(e.message).toContain(file);
    expect(fs.readFileSync(e.details!.movedTo as string, "utf8")).toBe("{ not json");
  });

  it("every data file is 0600 and every directory 0700", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    await createTask(w.as(), "t", { subject: "x", description: "", owner: "dev" });
    await sendMessage(w.as("dev"), "t", { recipient: "team-lead", content: "hi", summary: "s" });
    await readInbox(w.as(), "t");
    await w.flush();
    const entries = walk(w.dir);
    expect(entries.filter((e) => !e.dir).length).toBeGreaterThan(5);
    for (const e of entries) expect([e.path, e.mode.toString(8)]).toEqual([e.path, e.dir ? "700" : "600"]);
    // Every write was atomic and finished: no temp file and no lock left behind.
    expect(entries.filter((e) => /\.(tmp|lock)$/.test(e.path)).map((e) => e.path)).toEqual([]);
  });
});
