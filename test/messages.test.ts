import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { ARCHIVE_AT, KEEP_READ, broadcastMessage, markRead, readHistory, readInbox, sendMessage, systemMessage, unreadCount, unreadPeek } from "../src/messages.js";
import { deleteTeam } from "../src/teams.js";
import { TeamsError } from "../src/errors.js";
import { cleanupTemp, readJsonFile, readJsonl, teamWith, world, type World } from "./helpers/fixtures.js";

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
    expect(unreadCount(w.as(), "t", "qa")).toBe(1);
    expect(unreadPeek(w.as(), "t", "qa").map((x) => x.id)).toEqual([m.id]);
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
    expect(unreadCount(w.as(), "t", "qa")).toBe(0);
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
    for (const m of ["dev", "qa"]) expect(unreadCount(w.as(), "t", m)).toBe(0);
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
    expect(unreadCount(w.as(), "t", "qa")).toBe(0);
    expect(readJsonFile(w.as().paths.inbox("t", "qa")).messages.map((m: { read: boolean }) => m.read)).toEqual([true, true, true]);
  });

  it("the lead reading another inbox does not mark it read", async () => {
    const w = await setup();
    await send(w, "qa", "dev", "for dev");
    const peek = await readInbox(w.as(), "t", { agent_name: "dev" });
    expect(peek.messages.map((m) => m.content)).toEqual(["for dev"]);
    expect(peek.markedRead).toBe(false);
    expect((await readInbox(w.as(), "t", { agent_name: "dev", unread_only: false })).messages).toHaveLength(1);
    expect(unreadCount(w.as(), "t", "dev")).toBe(1);
    expect((await readInbox(w.as("dev"), "t")).messages.map((m) => m.content)).toEqual(["for dev"]);
  });

  it("a teammate cannot read another's inbox", async () => {
    const w = await setup();
    await send(w, "qa", "dev", "secret");
    const e = await err(readInbox(w.as("qa"), "t", { agent_name: "dev" }));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.message).toMatch(/^agent_name: only the lead/);
    expect(unreadCount(w.as(), "t", "dev")).toBe(1);
    expect((await err(readInbox(w.as(), "t", { agent_name: "ghost" }))).message).toMatch(/^agent_name: "ghost" is not a member/);
  });

  it("a corrupt inbox is moved aside with its bytes, reported with its path, and the next read works", async () => {
    const w = await setup();
    await send(w, "dev", "qa", "first");
    await readInbox(w.as("qa"), "t");
    const file = w.as().paths.inbox("t", "qa");
    const bytes = fs.readFileSync(file, "utf8").slice(0, 40);
    fs.writeFileSync(file, bytes);
    await send(w, "dev", "qa", "second");
    const e = await err(readInbox(w.as("qa"), "t"));
    expect(e.code).toBe("CORRUPT");
    expect(e.message).toContain(file);
    expect(fs.readFileSync(e.details!.movedTo as string, "utf8")).toBe(bytes);
    // The unread message survived in the spool and is delivered by the next read.
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["second"]);
  });
});

describe("markRead", () => {
  it("marks exactly the given messages read; later arrivals stay unread", async () => {
    const w = await setup();
    const a = await send(w, "dev", "qa", "a");
    const b = await send(w, "dev", "qa", "b");
    const seen = unreadPeek(w.as("qa"), "t", "qa");
    expect(seen.map((m) => m.id)).toEqual([a.id, b.id]);
    const c = await send(w, "dev", "qa", "c");
    expect(await markRead(w.as("qa"), "t", "qa", [a.id, b.id])).toBe(2);
    expect(unreadPeek(w.as("qa"), "t", "qa").map((m) => m.id)).toEqual([c.id]);
    expect(await markRead(w.as("qa"), "t", "qa", [a.id])).toBe(0);
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["c"]);
    expect(readHistory(w.as(), "t", "qa").messages.map((m) => [m.content, m.read])).toEqual([["a", true], ["b", true], ["c", true]]);
  });
});

describe("inbox archive", () => {
  it(`beyond ${ARCHIVE_AT} read messages the oldest move to archive/<agent>.jsonl; readHistory pages through all, in order`, async () => {
    const w = await setup();
    const total = 730;
    for (let i = 0; i < total; i++) {
      await send(w, "dev", "qa", `m${i}`);
      if (i % 97 === 96) await readInbox(w.as("qa"), "t");
    }
    await readInbox(w.as("qa"), "t");
    const p = w.as().paths;
    const inbox = readJsonFile(p.inbox("t", "qa")).messages;
    const archived = readJsonl(p.archive("t", "qa"));
    expect(inbox.length).toBeLessThanOrEqual(ARCHIVE_AT);
    expect(inbox.length).toBeGreaterThanOrEqual(KEEP_READ);
    expect(archived.length + inbox.length).toBe(total);
    expect(archived[0].content).toBe("m0");
    expect(inbox.at(-1).content).toBe(`m${total - 1}`);
    const seen: string[] = [];
    let before: number | undefined;
    let pages = 0;
    do {
      const page = readHistory(w.as(), "t", "qa", { before, limit: 100 });
      expect(page.total).toBe(total);
      seen.unshift(...page.messages.map((m) => m.content));
      before = page.nextBefore;
      pages++;
    } while (before !== undefined);
    expect(pages).toBe(Math.ceil(total / 100));
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
    expect((await readInbox(w.as("qa"), "t", { unread_only: false })).messages.length).toBe(inbox.length);
  }, 60_000);
});

describe("crash between the inbox rewrite and the spool removal", () => {
  it("a spool whose messages are already in the inbox file (even a big batch) yields no unread and no duplicates", async () => {
    const w = await setup();
    for (let i = 0; i < 250; i++) await send(w, "dev", "qa", `m${i}`);
    const p = w.as().paths;
    const spoolBefore = fs.readFileSync(p.spool("t", "qa"), "utf8");
    await readInbox(w.as("qa"), "t");
    // Simulate the crash: the merged inbox was written, but the spool was never removed.
    fs.writeFileSync(p.spool("t", "qa"), spoolBefore);
    expect(unreadPeek(w.as(), "t", "qa")).toEqual([]);
    expect((await readInbox(w.as("qa"), "t")).messages).toEqual([]);
    expect(readHistory(w.as(), "t", "qa", { limit: 1000 }).total).toBe(250);
  });
});

describe("lock-free sends and spool rotation", () => {
  const taking = (w: World, agent: string) => w.as().paths.spool("t", agent).replace(/\.spool\.jsonl$/, ".spool.taking.jsonl");

  it("a send is one line appended to the spool; reading renames the spool aside and removes it", async () => {
    const w = await setup();
    const p = w.as().paths;
    const a = await send(w, "dev", "qa", "a");
    const text = fs.readFileSync(p.spool("t", "qa"), "utf8");
    expect(text).toBe("\n" + JSON.stringify(a) + "\n");
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.id)).toEqual([a.id]);
    expect(fs.existsSync(p.spool("t", "qa"))).toBe(false);
    expect(fs.existsSync(taking(w, "qa"))).toBe(false);
  });

  it("a taken spool left by a reader that died before saving is seen by every reader and merged once by the next", async () => {
    const w = await setup();
    const p = w.as().paths;
    const a = await send(w, "dev", "qa", "a");
    const b = await send(w, "dev", "qa", "b");
    fs.renameSync(p.spool("t", "qa"), taking(w, "qa")); // the reader died right after the rename
    const c = await send(w, "dev", "qa", "c");
    expect(unreadCount(w.as(), "t", "qa")).toBe(3);
    expect(unreadPeek(w.as(), "t", "qa").map((m) => m.content)).toEqual(["a", "b", "c"]);
    expect(readHistory(w.as(), "t", "qa").messages.map((m) => m.content)).toEqual(["a", "b", "c"]);
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.id)).toEqual([a.id, b.id, c.id]);
    expect(fs.existsSync(taking(w, "qa"))).toBe(false);
    expect(unreadCount(w.as(), "t", "qa")).toBe(0);
    expect((await readInbox(w.as("qa"), "t")).messages).toEqual([]);
    expect(readHistory(w.as(), "t", "qa").total).toBe(3);
  });

  it("a reader that died after saving the inbox but before removing the taken spool: no unread, no duplicates", async () => {
    const w = await setup();
    const p = w.as().paths;
    for (const x of ["a", "b"]) await send(w, "dev", "qa", x);
    const before = fs.readFileSync(p.spool("t", "qa"), "utf8");
    await readInbox(w.as("qa"), "t");
    fs.writeFileSync(taking(w, "qa"), before);
    await send(w, "dev", "qa", "c");
    expect(unreadPeek(w.as(), "t", "qa").map((m) => m.content)).toEqual(["c"]);
    expect(readHistory(w.as(), "t", "qa").messages.map((m) => m.content)).toEqual(["a", "b", "c"]);
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["c"]);
    expect(fs.existsSync(taking(w, "qa"))).toBe(false);
    expect((await readInbox(w.as("qa"), "t", { unread_only: false })).messages.map((m) => m.content)).toEqual(["a", "b", "c"]);
  });

  it("markRead with a leftover taken spool: the wanted ones are read, the rest stay unread in the spool", async () => {
    const w = await setup();
    const p = w.as().paths;
    const a = await send(w, "dev", "qa", "a");
    await send(w, "dev", "qa", "b");
    fs.renameSync(p.spool("t", "qa"), taking(w, "qa"));
    await send(w, "dev", "qa", "c");
    expect(await markRead(w.as("qa"), "t", "qa", [a.id])).toBe(1);
    expect(fs.existsSync(taking(w, "qa"))).toBe(false);
    expect(unreadPeek(w.as(), "t", "qa").map((m) => m.content).sort()).toEqual(["b", "c"]);
    expect(readHistory(w.as(), "t", "qa").total).toBe(3);
  });

  it("the empty-inbox fast path notices a leftover taken spool", async () => {
    const w = await setup();
    const p = w.as().paths;
    await send(w, "dev", "qa", "a");
    fs.renameSync(p.spool("t", "qa"), taking(w, "qa"));
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["a"]);
  });

  it("a torn line in the spool (a sender killed mid-write) costs only that line", async () => {
    const w = await setup();
    const p = w.as().paths;
    await send(w, "dev", "qa", "a");
    fs.appendFileSync(p.spool("t", "qa"), '{"id":"torn","from":"dev","to":"q');
    await send(w, "dev", "qa", "b");
    expect((await readInbox(w.as("qa"), "t")).messages.map((m) => m.content)).toEqual(["a", "b"]);
  });

  it("a team deleted before the spool is opened: NOT_FOUND, and no messages directory appears", async () => {
    const w = await setup();
    const p = w.as().paths;
    await deleteTeam(w.as(), "t");
    const e = await err(systemMessage(w.as(), "t", "qa", "hi", "hello", "test"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toMatch(/deleted; the message was not sent/);
    expect(fs.existsSync(p.messagesDir("t"))).toBe(false);
  });

  it("a team deleted while the message was being written: NOT_FOUND; nothing else is removed", async () => {
    const w = await setup();
    const p = w.as().paths;
    await deleteTeam(w.as(), "t");
    // A watcher re-created the messages directory; the config is gone.
    fs.mkdirSync(p.messagesDir("t"), { recursive: true });
    fs.writeFileSync(path.join(p.messagesDir("t"), "keep.txt"), "x");
    const e = await err(systemMessage(w.as(), "t", "qa", "hi", "hello", "test"));
    expect(e.code).toBe("NOT_FOUND");
    expect(fs.readFileSync(path.join(p.messagesDir("t"), "keep.txt"), "utf8")).toBe("x");
  });
});
