/**
 * Inboxes. A send appends one line to the recipient's spool
 * (`<agent>.spool.jsonl`) with one O_APPEND write and no lock, O(1) whatever
 * the history. The owner reading its inbox (under the inbox lock, readers
 * only) renames the spool aside to `<agent>.spool.taking.jsonl`, merges it
 * into `<agent>.json` and marks it read. Once more than ARCHIVE_AT read
 * messages pile up, the oldest move to `archive/<agent>.jsonl`. Every step is
 * idempotent by message id, so a crash between steps duplicates nothing and
 * loses nothing (docs/storage.md, "Messages").
 */
import fs from "node:fs";
import path from "node:path";
import { nanoid } from "nanoid";
import type { Ctx } from "./context.js";
import { TeamsError, invalid } from "./errors.js";
import { appendEvent, queueEvent, type QueuedEvent } from "./events.js";
import { InboxSchema, parseWith, type Inbox, type Message } from "./schemas.js";
import { appendText, ensureDir, forgetDirs, ioError, parseJsonl, readJson, readText, writeJson } from "./store/json-file.js";
import { withLock } from "./store/lock.js";
import { closeAndRead, isClosedLine, stillNamed, takenBefore, writeAll } from "./store/handoff.js";
import { LEAD_NAME, validateName } from "./store/paths.js";
import { isLead, memberNames, readTeam, requireMember } from "./teams.js";

/** Read messages kept in the inbox file before the oldest are archived. */
export const ARCHIVE_AT = 300;
/** Read messages left in the inbox file after archiving. */
export const KEEP_READ = 200;
export const MAX_CONTENT_BYTES = 256 * 1024;
export const MAX_SUMMARY_CHARS = 200;

export interface SendInput { recipient: string; content: string; summary: string; color?: string; kind?: string }

function checkInbox(v: unknown): Inbox {
  return parseWith(InboxSchema, v, "inbox");
}

function checkText(field: string, value: unknown, max: number, unit: "bytes" | "chars"): string {
  if (typeof value !== "string") throw invalid(field, `must be a string (got ${value === undefined ? "nothing" : typeof value})`);
  if (!value.trim()) throw invalid(field, "must not be empty");
  if (value.includes("\u0000")) throw invalid(field, "contains a NUL character; remove it");
  const size = unit === "bytes" ? Buffer.byteLength(value) : value.length;
  if (size > max) {
    throw invalid(field, `is ${size} ${unit}; the limit is ${max} ${unit}. ${field === "content" ? "Write long output to a file and send its path instead." : "Keep it to one short line."}`);
  }
  return value;
}

function newMessage(ctx: Ctx, to: string, input: Omit<SendInput, "recipient">): Message {
  const msg: Message = {
    id: nanoid(12),
    from: ctx.actor,
    to,
    content: checkText("content", input.content, MAX_CONTENT_BYTES, "bytes"),
    summary: checkText("summary", input.summary, MAX_SUMMARY_CHARS, "chars"),
    timestamp: new Date(ctx.now()).toISOString(),
    read: false,
  };
  if (input.color !== undefined) msg.color = checkText("color", input.color, 32, "chars");
  if (input.kind) msg.kind = input.kind;
  return msg;
}

function deletedWhileSending(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" was deleted; the message was not sent.`, { team });
}

/**
 * Appends the message to the recipient's spool without any lock: one write()
 * on an O_APPEND fd (lines never interleave), fdatasync, then a check that the
 * file written is still the spool. If a reader took it meanwhile, the reader's
 * CLOSED line tells whether ours made it in (store/handoff.ts); only if it
 * did not is the message appended again, to the new spool. No duplicates.
 */
async function deliver(ctx: Ctx, team: string, msg: Message, onWritten?: () => void): Promise<void> {
  const spool = ctx.paths.spool(team, msg.to);
  const config = ctx.paths.teamConfig(team);
  // The leading newline isolates a fragment torn by a sender killed mid-write; readers skip empty lines.
  const buf = Buffer.from("\n" + JSON.stringify(msg) + "\n", "utf8");
  let written = false;
  for (let tries = 0; ; tries++) {
    let fd: number;
    try {
      fd = fs.openSync(spool, "a+", 0o600); // readable: see takenBefore
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || tries > 2) throw ioError(`cannot append to ${spool}`, e);
      // No messages directory: a team deleted since the caller read its config must not get mail (nor a new directory).
      if (!fs.existsSync(config)) throw deletedWhileSending(team);
      forgetDirs(path.dirname(spool));
      ensureDir(path.dirname(spool));
      continue;
    }
    let stillSpool: boolean;
    try {
      try {
        writeAll(fd, buf);
      } catch (e) {
        throw ioError(`cannot append to ${spool}`, e);
      }
      // Before the slow fdatasync, so that whatever the caller starts (queueing its event) progresses meanwhile.
      if (!written) onWritten?.();
      written = true;
      try {
        fs.fdatasyncSync(fd);
        stillSpool = stillNamed(spool, fs.fstatSync(fd)) || takenBefore(fd, msg.id);
      } catch (e) {
        throw ioError(`cannot append to ${spool}`, e);
      }
    } finally {
      fs.closeSync(fd);
    }
    // Deleted while we wrote: say so. Remove nothing (the directory may already belong to a new team of that name).
    if (!fs.existsSync(config)) throw deletedWhileSending(team);
    if (stillSpool) return;
    if (tries > 100) throw new TeamsError("IO", `cannot deliver to ${spool}: it was taken away ${tries} times in a row`);
  }
}

/**
 * Delivers and logs `message.sent`: the event is queued right after the
 * spool write and waited for after the fdatasync, so that the two waits
 * overlap. If the send fails after the write, the queued event still gets
 * logged by the next appender (the line is in the spool, or went with a
 * deleted team).
 */
async function deliverAndLog(ctx: Ctx, team: string, msg: Message): Promise<void> {
  let queued: QueuedEvent | undefined;
  try {
    await deliver(ctx, team, msg, () => {
      queued = queueEvent(ctx, team, "message.sent", { id: msg.id, from: msg.from, to: msg.to, summary: msg.summary, kind: msg.kind });
    });
  } catch (e) {
    queued?.abandon();
    throw e;
  }
  await queued?.logged();
}

/** Sends one message from the caller to a member (team-lead is always valid). */
export async function sendMessage(ctx: Ctx, team: string, input: SendInput): Promise<Message> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "sender (your identity)", ctx.actor);
  const to = requireMember(cfg, "recipient", input.recipient);
  if (to === ctx.actor) throw invalid("recipient", "is you; send to another member");
  const msg = newMessage(ctx, to, input);
  await deliverAndLog(ctx, team, msg);
  return msg;
}

/** Name used as sender of notifications the system itself sends (task recovery, self-notifications). */
export const SYSTEM_SENDER = "clanker-teams";

/** Delivers a notification from the system (not a member) to a member. */
export async function systemMessage(ctx: Ctx, team: string, to: string, summary: string, content: string, kind: string): Promise<Message> {
  const msg = newMessage({ ...ctx, actor: SYSTEM_SENDER }, to, { content, summary: summary.slice(0, MAX_SUMMARY_CHARS), kind });
  await deliverAndLog(ctx, team, msg);
  return msg;
}

/** Sends to every member except the caller. */
export async function broadcastMessage(ctx: Ctx, team: string, input: Omit<SendInput, "recipient">): Promise<Message[]> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "sender (your identity)", ctx.actor);
  const targets = memberNames(cfg).filter((n) => n !== ctx.actor);
  // Validate once before delivering anything, so bad input sends nothing.
  newMessage(ctx, LEAD_NAME, input);
  const sent: Message[] = [];
  for (const to of targets) {
    const msg = newMessage(ctx, to, input);
    await deliver(ctx, team, msg);
    sent.push(msg);
  }
  await appendEvent(ctx, team, "message.broadcast", { from: ctx.actor, to: targets, summary: input.summary, ids: sent.map((m) => m.id) });
  return sent;
}

/** Messages of one spool-like file, complete lines only (a reader's CLOSED line skipped). */
function readLines(file: string): Message[] {
  const text = readText(file);
  return text ? messagesIn(text) : [];
}

function messagesIn(text: string): Message[] {
  return parseJsonl<Message>(text).items.filter((m) => !isClosedLine(m));
}

/**
 * Messages not yet merged into the inbox file, oldest first: a taken spool a
 * reader is merging (or left behind when it died), then the spool. The spool
 * is read first: a reader renaming it in between then shows up in the taken
 * file (a duplicate, dropped by id), never nowhere.
 */
function readUnmerged(ctx: Ctx, team: string, agent: string): Message[] {
  const spool = readLines(ctx.paths.spool(team, agent));
  const taking = readLines(ctx.paths.spoolTaking(team, agent));
  return taking.length ? [...taking, ...spool] : spool;
}

/** Bytes waiting in the spool and a taken spool: two stats, no parse. */
function unmergedBytes(ctx: Ctx, team: string, agent: string): number {
  return fileSize(ctx.paths.spool(team, agent)) + fileSize(ctx.paths.spoolTaking(team, agent));
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Unread count without any lock (two stats when the inbox is empty). */
export function unreadCount(ctx: Ctx, team: string, agent: string): number {
  return unmergedBytes(ctx, team, agent) === 0 ? 0 : unreadPeek(ctx, team, agent).length;
}

/** Unread messages without marking them read. */
export function unreadPeek(ctx: Ctx, team: string, agent: string): Message[] {
  const unmerged = readUnmerged(ctx, team, agent);
  if (!unmerged.length) return [];
  const inbox = readJson(ctx.paths.inbox(team, agent), checkInbox);
  const seen = new Set(inbox?.messages.map((m) => m.id));
  return dedupe(unmerged).filter((m) => !seen.has(m.id));
}

function dedupe(msgs: Message[]): Message[] {
  const seen = new Set<string>();
  return msgs.filter((m) => (seen.has(m.id) ? false : (seen.add(m.id), true)));
}

export interface ReadInboxInput { agent_name?: string; unread_only?: boolean }
export interface ReadInboxResult { agent: string; messages: Message[]; markedRead: boolean; unreadBefore: number }

/**
 * Reads an inbox. Unread only unless unread_only is false. The owner's read
 * marks messages read; the lead inspecting another inbox marks nothing.
 */
export async function readInbox(ctx: Ctx, team: string, input: ReadInboxInput = {}): Promise<ReadInboxResult> {
  const cfg = readTeam(ctx, team);
  const agent = input.agent_name ? requireMember(cfg, "agent_name", input.agent_name) : ctx.actor;
  requireMember(cfg, "agent_name (your identity)", agent);
  const unreadOnly = input.unread_only !== false;
  const own = agent === ctx.actor;
  if (!own && !isLead(cfg, ctx.actor)) {
    throw new TeamsError("FORBIDDEN", `agent_name: only the lead may read another member's inbox; omit agent_name to read your own (${ctx.actor}).`);
  }
  if (!own) {
    const unread = unreadPeek(ctx, team, agent);
    if (unreadOnly) return { agent, messages: unread, markedRead: false, unreadBefore: unread.length };
    const inbox = readJson(ctx.paths.inbox(team, agent), checkInbox);
    return { agent, messages: [...(inbox?.messages ?? []), ...unread], markedRead: false, unreadBefore: unread.length };
  }
  // Fast path: nothing unread and only unread wanted: no lock, no parse.
  if (unreadOnly && unmergedBytes(ctx, team, agent) === 0) return { agent, messages: [], markedRead: false, unreadBefore: 0 };
  return markAllRead(ctx, team, agent, unreadOnly);
}

/**
 * Under the inbox lock: renames the spool aside (senders then start a new one)
 * and returns what is to be merged, with whether a taken file now exists. A
 * taken file a dead reader left is first appended back to the spool, so that
 * the rename (which replaces it) cannot drop a message.
 */
function takeSpool(ctx: Ctx, team: string, agent: string): { msgs: Message[]; taken: boolean } {
  const spool = ctx.paths.spool(team, agent);
  const taking = ctx.paths.spoolTaking(team, agent);
  // A dead reader's file: closed first (a sender still writing to it then sends again), then all of it is
  // kept, lines after a CLOSED line too (their senders may have died before sending again; copies drop by id).
  const leftText = closeAndRead(taking)?.text;
  const left = leftText === undefined ? undefined : messagesIn(leftText);
  if (left?.length) appendText(spool, left.map((m) => "\n" + JSON.stringify(m) + "\n").join(""), { sync: true });
  try {
    fs.renameSync(spool, taking);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot take ${spool}`, e);
    if (left === undefined) return { msgs: [], taken: false };
    return { msgs: left, taken: true };
  }
  // Lines after our CLOSED line were too late: their senders append them again to the new spool.
  const msgs = messagesIn(closeAndRead(taking)?.before ?? "");
  // The leftover's messages are older than the spool's: keep them first (its copies in the new file are dropped by id).
  return { msgs: left ? [...left, ...msgs] : msgs, taken: true };
}

/** Removes the taken spool once everything in it is in the inbox file or back in the spool. */
function dropTaken(ctx: Ctx, team: string, agent: string): void {
  try {
    fs.unlinkSync(ctx.paths.spoolTaking(team, agent));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot remove ${ctx.paths.spoolTaking(team, agent)}`, e);
  }
}

/**
 * Saves a merged inbox, then puts what is still unread back in the spool,
 * then removes the taken spool, then archives overflow: the one order where a
 * crash at any point duplicates (readers drop duplicates by id) but never
 * loses or resurrects a message. Call under the inbox lock, after takeSpool.
 * Returns how many messages were archived.
 */
function saveInbox(ctx: Ctx, team: string, agent: string, inbox: Inbox, stillUnread: Message[]): number {
  const inboxFile = ctx.paths.inbox(team, agent);
  writeJson(inboxFile, inbox);
  // Appended, not rewritten: senders keep appending to the spool without a lock.
  if (stillUnread.length) appendText(ctx.paths.spool(team, agent), stillUnread.map((m) => "\n" + JSON.stringify(m) + "\n").join(""), { sync: true });
  dropTaken(ctx, team, agent);
  if (inbox.messages.length <= ARCHIVE_AT) return 0;
  const cut = inbox.messages.length - KEEP_READ;
  const old = inbox.messages.slice(0, cut);
  appendText(ctx.paths.archive(team, agent), old.map((m) => JSON.stringify(m)).join("\n") + "\n", { sync: true });
  inbox.messages = inbox.messages.slice(cut);
  writeJson(inboxFile, inbox);
  return old.length;
}

/** Merges the spool into the inbox file, marks everything read, archives overflow. */
async function markAllRead(ctx: Ctx, team: string, agent: string, unreadOnly: boolean): Promise<ReadInboxResult> {
  const inboxFile = ctx.paths.inbox(team, agent);
  const result = await withLock(inboxFile, () => {
    const inbox = readJson(inboxFile, checkInbox) ?? { messages: [] };
    const taken = takeSpool(ctx, team, agent);
    const known = new Set(inbox.messages.map((m) => m.id));
    const fresh = dedupe(taken.msgs).filter((m) => !known.has(m.id));
    const legacyUnread = inbox.messages.filter((m) => !m.read);
    const newlyRead = [...legacyUnread, ...fresh];
    for (const m of newlyRead) m.read = true;
    inbox.messages.push(...fresh);
    let archived = 0;
    if (newlyRead.length || !fs.existsSync(inboxFile)) archived = saveInbox(ctx, team, agent, inbox, []);
    else if (taken.taken) dropTaken(ctx, team, agent); // only duplicates of what the inbox file holds
    return { messages: unreadOnly ? newlyRead : inbox.messages, newlyRead: newlyRead.length, archived, total: inbox.messages.length };
  });
  if (result.newlyRead) {
    await withLock(ctx.paths.messageIndex(team), () => {
      type Counts = { read: number; archived: number; lastReadAt: string };
      const idx = readJson<{ agents?: Record<string, Counts> }>(ctx.paths.messageIndex(team)) ?? {};
      // Keyed by member names: a map without a prototype, so "__proto__" or "constructor" is just a name.
      const agents: Record<string, Counts> = Object.assign(Object.create(null), typeof idx.agents === "object" && idx.agents ? idx.agents : {});
      const prev = agents[agent] ?? { read: 0, archived: 0, lastReadAt: "" };
      agents[agent] = { read: result.total, archived: (Number(prev.archived) || 0) + result.archived, lastReadAt: new Date(ctx.now()).toISOString() };
      idx.agents = agents;
      writeJson(ctx.paths.messageIndex(team), idx, { fsync: false });
    }).catch(() => undefined); // the index is derived data: never fail a read for it
    await appendEvent(ctx, team, "message.read", { agent, count: result.newlyRead, ids: result.messages.filter((m) => m.read).slice(-50).map((m) => m.id) });
  }
  return { agent, messages: result.messages, markedRead: result.newlyRead > 0, unreadBefore: result.newlyRead };
}

export interface HistoryPage { messages: Message[]; nextBefore?: number; total: number }

/**
 * Full history of an inbox, newest last, paged back into the archive:
 * `before` is an index into the whole history (exclusive), `limit` the page size.
 */
export function readHistory(ctx: Ctx, team: string, agent: string, opts: { before?: number; limit?: number } = {}): HistoryPage {
  validateName("agent_name", agent);
  // Read in the order messages move (spool → taken → inbox → archive): one moving meanwhile is seen twice, never missed.
  const unmerged = readUnmerged(ctx, team, agent);
  const inbox = readJson(ctx.paths.inbox(team, agent), checkInbox)?.messages ?? [];
  const archived = readLines(ctx.paths.archive(team, agent));
  const all = dedupe([...archived, ...inbox, ...unmerged]);
  const before = Math.min(opts.before ?? all.length, all.length);
  const limit = Math.max(1, opts.limit ?? 100);
  const start = Math.max(0, before - limit);
  return { messages: all.slice(start, before), nextBefore: start > 0 ? start : undefined, total: all.length };
}

/**
 * Marks exactly these messages read (after a host delivered them into the
 * conversation). Messages that arrived since are left unread, so delivery is
 * at-least-once across crashes and exactly-once while the process lives.
 */
export async function markRead(ctx: Ctx, team: string, agent: string, ids: string[]): Promise<number> {
  if (!ids.length) return 0;
  const want = new Set(ids);
  const inboxFile = ctx.paths.inbox(team, agent);
  const n = await withLock(inboxFile, () => {
    const inbox = readJson(inboxFile, checkInbox) ?? { messages: [] };
    const known = new Set(inbox.messages.map((m) => m.id));
    // Only take the spool if it holds one of the wanted messages (else leave senders' file alone).
    const peek = dedupe(readUnmerged(ctx, team, agent)).filter((m) => !known.has(m.id));
    const hasWanted = peek.some((m) => want.has(m.id));
    let marked = 0;
    for (const m of inbox.messages) if (want.has(m.id) && !m.read) { m.read = true; marked++; }
    if (!hasWanted) {
      if (marked) writeJson(inboxFile, inbox);
      return marked;
    }
    const unmerged = dedupe(takeSpool(ctx, team, agent).msgs).filter((m) => !known.has(m.id));
    const moved = unmerged.filter((m) => want.has(m.id));
    const rest = unmerged.filter((m) => !want.has(m.id));
    for (const m of moved) { m.read = true; marked++; }
    inbox.messages.push(...moved);
    saveInbox(ctx, team, agent, inbox, rest);
    return marked;
  });
  if (n) await appendEvent(ctx, team, "message.read", { agent, count: n, ids: ids.slice(0, 50) });
  return n;
}
