import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { broadcastMessage, markRead, readHistory, readInbox, sendMessage, systemMessage, unreadCount, unreadPeek } from "../src/domain/messages.js";
import { deleteTeam } from "../src/domain/teams.js";
import { KEEP_READ } from "../src/store/json/materialize.js";
import { TeamsError } from "../src/errors.js";
import { assertDataFilesParse, cleanupTemp, cli, readJsonFile, readJsonl, teamWith, world, type World } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

async function err(p: Promise<unknown>): Promise<TeamsError> {
  try { await p; } catch (e) { return e as TeamsError; }
  throw new Error("expected an error");
}

async function setup(): Promise<World> {
  const w = world();
  await teamWith(w, "t", ["dev", "qa"]);
  return w;
}
const send = (w: World, from: string, to: string, content: string) => sendMessage(w.as(from), "t", { recipient: to, content, summary: content.slice(0, 20) });

describe("send_message", () => {
  it("delivers with the documented fields, from the caller", async () => {
    const w = await setup();
    const m = await sendMessage(w.as("dev"), "t", { recipient: "qa", content: "hello", summary: "greeting", color: "blue" });
    expect(m).toMatchObject({ from: "dev", to: "qa", content: "hello", summary: "greeting", read: false, color: "blue", timestamp: new Date(w.clock.now).toISOString() });
    expect(typeof m.id).toBe("string");
    expect(await unreadCount(w.as(), "t", "qa")).toBe(1);
    expect((await unreadPeek(w.as(), "t", "qa")).map((x) => x.id)).toEqual([m.id]);
  });

  it("to a non-member fails and lists the members; team-lead is always valid", async () => {
    const w = await setup();
    const e = await err(send(w, "dev", "ghost", "hi"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toMatch(/^recipient: "ghost" is not a member of team "t"; members: team-lead, dev, qa/);
    expect((await send(w, "dev", "team-lead", "hi")).to).toBe("team-lead");
  });

  it("the sender must be a member (no pretending), and not oneself", async () => {
    const w = await setup();
    expect((await err(send(w, "mallory", "dev", "hi"))).message).toMatch(/^sender \(your identity\): "mallory" is not a member/);
    expect((await err(send(w, "dev", "dev", "hi"))).message).toMatch(/^recipient: is you/);
  });

  it("refuses empty, NUL, oversized content and summary, naming the field; nothing is delivered", async () => {
    const w = await setup();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ content: "", summary: "s" }, /^content: must not be empty/],
      [{ content: "a\u0000b", summary: "s" }, /^content: contains a NUL/],
      [{ content: "x".repeat(10 * 1024 * 1024), summary: "s" }, /^content: is 10485760 bytes; the limit is/],
      [{ content: "ok", summary: "" }, /^summary: /],
      [{ content: "ok", summary: "s".repeat(201) }, /^summary: /],
      [{ content: "ok" }, /^summary: must be a string/],
    ];
    for (const [input, re] of bad) {
      const e = await err(sendMessage(w.as("dev"), "t", { recipient: "qa", ...input } as never));
      expect(e.code).toBe("INVALID_INPUT");
      expect(e.message).toMatch(re);
    }
    expect(await unreadCount(w.as(), "t", "qa")).toBe(0);
  });

  it("keeps control characters other than NUL, quotes and unicode intact", async () => {
    const w = await setup();
    const content = "line1\nline2\t\"quoted\" $(x) ; 日本 🚀 \u001b[31mred";
    await send(w, "dev", "qa", content);
    expect((await readInbox(w.as("qa"), "t")).messages[0].content).toBe(content);
  });
});

describe("broadcast_message", () => {
  it("reaches every member but the sender", async () => {
    const w = await setup();
    const sent = await broadcastMessage(w.as("dev"), "t", { content: "freeze", summary: "freeze" });
    expect(sent.map((m) => m.to).sort()).toEqual(["qa", "team-lead"]);
    expect((await readInbox(w.as("qa"), "t")).messages).toHaveLength(1);
    expect((await readInbox(w.as(), "t")).messages).toHaveLength(1);
    expect((await readInbox(w.as("dev"), "t")).messages).toHaveLength(0);
  });
  it("bad input sends nothing to anyone", async () => {
    const w = await setup();
    await expect(broadcastMessage(w.as(), "t", { content: "x", summary: "" })).rejects.toThrow(/^summary/);
    for (const m of ["dev", "qa"]) expect(await unreadCount(w.as(), "t", m)).toBe(0);
  });
});

describe("read_inbox", () => {
  it("defaults to unread only (param absent or undefined) and marks read", async () => {
    const w = await setup();
    await send(w, "dev", "qa", "one");
    await send(w, "dev", "qa", "two");
    const r1 = await readInbox(w.as("qa"), "t");
    expect(r1.messages.map((m) => m.content)).toEqual(["one", "two"]);
    expect(r1.messages.every((m) => m.read)).toBe(true);
    expect(r1.markedRead).toBe(true);
    expect((await readInbox(w.as("qa"), "t", { unread_only: undefined })).messages).toEqual([]);
    await send(w, "dev", "qa", "three");
    expect((await readInbox(w.as("qa"), "t", {})).messages.map((m) => m.content)).toEqual(["three"]);
    const all = await readInbox(w.as("qa"), "t", { unread_only: false });
    expect(all.messages.map((m) => m.content)).toEqual(["one", "two", "three"]);
    expect(await unreadCount(w.as(), "t", "qa")).toBe(0);
    await w.flush();
    expect(readJsonFile(w.layout.inbox("t", "qa")).messages.map((m: { read: boolean }) => m.read)).toEqual([true, true, true]);
  });

  it("the lead reading another inbox does not mark it read", async () => {
    const w = await setup();
    await send(w, "qa", "dev", "for dev");
    const peek = await readInbox(w.as(), "t", { agent_name: "dev" });
    expect(peek.messages.map((m) => m.content)).toEqual(["for dev"]);
    expect(peek.markedRead).toBe(false);
    expect((await readInbox(w.as(), "t", { agent_name: "dev", unread_only: false })).messages).toHaveLength(1);
    expect(await unreadCount(w.as(), "t", "dev")).toBe(1);
    expect((await readInbox(w.as("dev"), "t")).messages.map((m) => m.content)).toEqual(["for dev"]);
  });

  it("a teammate cannot read another's inbox", async () => {
    const w = await setup();
    await send(w, "qa", "dev", "secret");
    const e = await err(readInbox(w.as("qa"), "t", { agent_name: "dev" }));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.message).toMatch(/^agent_name: only the lead/);
    expect(await unreadCount(w.as(), "t", "dev")).toBe(1);
    expect((await err(readInbox(w.as(), "t", { agent_name: "ghost" }))).message).toMatch(/^agent_name: "ghost" is not a member/);
  });

  it("a corrupt inbox file is never what a read sees (the log is); the next delivery rewrites it whole", async () => {
    const w = await setup();
    await send(w, "dev", "qa", "first");
    await readInbox(w.as("qa"), "t");
    await w.flush();
    const file = w.layout.inbox("t", "qa");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").slice(0, 40));
    await send(w, "dev", "qa", "second");
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["second"]);
    expect((await readInbox(w.as("qa"), "t", { unread_only: false })).messages.map((m) => m.content)).toEqual(["first", "second"]);
    await w.flush();
    expect(readJsonFile(file).messages.map((m: { content: string; read: boolean }) => [m.content, m.read])).toEqual([["first", true], ["second", true]]);
    assertDataFilesParse(w.dir);
  });
});

describe("markRead", () => {
  it("marks exactly the given messages read; later arrivals stay unread", async () => {
    const w = await setup();
    const a = await send(w, "dev", "qa", "a");
    const b = await send(w, "dev", "qa", "b");
    const seen = await unreadPeek(w.as("qa"), "t", "qa");
    expect(seen.map((m) => m.id)).toEqual([a.id, b.id]);
    const c = await send(w, "dev", "qa", "c");
    expect(await markRead(w.as("qa"), "t", "qa", [a.id, b.id])).toBe(2);
    expect((await unreadPeek(w.as("qa"), "t", "qa")).map((m) => m.id)).toEqual([c.id]);
    expect(await markRead(w.as("qa"), "t", "qa", [a.id])).toBe(0);
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["c"]);
    expect((await readHistory(w.as(), "t", "qa")).messages.map((m) => [m.content, m.read])).toEqual([["a", true], ["b", true], ["c", true]]);
  });
});

describe("inbox archive", () => {
  it(`beyond ${KEEP_READ} read messages the oldest move to archive/<agent>.jsonl; readHistory pages through all, in order`, async () => {
    const w = await setup();
    const total = 730;
    for (let i = 0; i < total; i++) {
      await send(w, "dev", "qa", `m${i}`);
      if (i % 97 === 96) await readInbox(w.as("qa"), "t");
    }
    await readInbox(w.as("qa"), "t");
    await w.flush();
    const inbox = readJsonFile(w.layout.inbox("t", "qa")).messages;
    const archived = readJsonl(w.layout.archive("t", "qa"));
    expect(inbox.length).toBe(KEEP_READ);
    expect(archived.length + inbox.length).toBe(total);
    expect(archived[0].content).toBe("m0");
    expect(inbox.at(-1).content).toBe(`m${total - 1}`);
    const seen: string[] = [];
    let before: number | undefined;
    let pages = 0;
    do {
      const page = await readHistory(w.as(), "t", "qa", { before, limit: 100 });
      expect(page.total).toBe(total);
      seen.unshift(...page.messages.map((m) => m.content));
      before = page.nextBefore;
      pages++;
    } while (before !== undefined);
    expect(pages).toBe(Math.ceil(total / 100));
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
    // read_inbox with unread_only false shows the newest 500 of the history.
    expect((await readInbox(w.as("qa"), "t", { unread_only: false })).messages.map((m) => m.content)).toEqual(seen.slice(-500));
  }, 60_000);
});

describe("a deleted team", () => {
  it("a message to a deleted team: NOT_FOUND, and no messages directory appears", async () => {
    const w = await setup();
    await deleteTeam(w.as(), "t");
    const e = await err(systemMessage(w.as(), "t", "qa", "hi", "hello", "test"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toMatch(/team "t" does not exist/);
    expect(fs.existsSync(w.layout.messagesDir("t"))).toBe(false);
    expect(fs.existsSync(w.layout.teamDir("t"))).toBe(false);
  });

  it("a team deleted while a directory of it was re-created behind its back: NOT_FOUND; nothing else is removed", async () => {
    const w = await setup();
    await deleteTeam(w.as(), "t");
    fs.mkdirSync(w.layout.messagesDir("t"), { recursive: true });
    fs.writeFileSync(path.join(w.layout.messagesDir("t"), "keep.txt"), "x");
    const e = await err(systemMessage(w.as(), "t", "qa", "hi", "hello", "test"));
    expect(e.code).toBe("NOT_FOUND");
    expect(fs.readFileSync(path.join(w.layout.messagesDir("t"), "keep.txt"), "utf8")).toBe("x");
  });

  it("a message delivered by a process that still had the team open after another process deleted it: NOT_FOUND, nothing saved", async () => {
    const w = await setup();
    await send(w, "dev", "qa", "before");
    // Another process deletes the team (the CLI), while this one holds its log open.
    expect((await cli(["call", "team_delete", '{"team_name":"t"}'], { dir: w.dir })).exitCode).toBe(0);
    const e = await err(send(w, "dev", "qa", "after"));
    expect(e.code).toBe("NOT_FOUND");
    expect(fs.existsSync(w.layout.teamDir("t"))).toBe(false);
    expect(fs.existsSync(w.layout.messagesDir("t"))).toBe(false);
  });
});
