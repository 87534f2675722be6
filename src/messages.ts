/**
 * Inboxes. A send appends one line to the recipient's spool
 * (`<agent>.spool.jsonl`, O(1) whatever the history); the owner reading its
 * inbox merges the spool into `<agent>.json` and marks it read. Once more than
 * ARCHIVE_AT read messages pile up, the oldest move to `archive/<agent>.jsonl`.
 * Every step is idempotent by message id, so a crash between steps duplicates
 * nothing and loses nothing.
 */
import fs from "node:fs";
import { nanoid } from "nanoid";
import type { Ctx } from "./context.js";
import { TeamsError, invalid } from "./errors.js";
import { appendEvent } from "./events.js";
import { InboxSchema, parseWith, type Inbox, type Message } from "./schemas.js";
import { appendText, parseJsonl, readJson, readText, writeJson, writeFileAtomic as writeFileAtomicText } from "./store/json-file.js";
import { withLock } from "./store/lock.js";
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

async function deliver(ctx: Ctx, team: string, msg: Message): Promise<void> {
  const line = JSON.stringify(msg) + "\n";
  await withLock(ctx.paths.inbox(team, msg.to), () => {
    // The team may have been deleted since the caller read its config: do not leave mail for a future team of that name.
    if (!fs.existsSync(ctx.paths.teamConfig(team))) throw new TeamsError("NOT_FOUND", `team "${team}" was deleted; the message was not sent.`);
    appendText(ctx.paths.spool(team, msg.to), line, { sync: true });
  });
}

/** Sends one message from the caller to a member (team-lead is always valid). */
export async function sendMessage(ctx: Ctx, team: string, input: SendInput): Promise<Message> {
  const cfg = readTeam(ctx, team);
  requireMember(cfg, "sender (your identity)", ctx.actor);
  const to = requireMember(cfg, "recipient", input.recipient);
  if (to === ctx.actor) throw invalid("recipient", "is you; send to another member");
  const msg = newMessage(ctx, to, input);
  await deliver(ctx, team, msg);
  await appendEvent(ctx, team, "message.sent", { id: msg.id, from: msg.from, to, summary: msg.summary, kind: msg.kind });
  return msg;
}

/** Name used as sender of notifications the system itself sends (task recovery, self-notifications). */
export const SYSTEM_SENDER = "clanker-teams";

/** Delivers a notification from the system (not a member) to a member. */
export async function systemMessage(ctx: Ctx, team: string, to: string, summary: string, content: string, kind: string): Promise<Message> {
  const msg = newMessage({ ...ctx, actor: SYSTEM_SENDER }, to, { content, summary: summary.slice(0, MAX_SUMMARY_CHARS), kind });
  await deliver(ctx, team, msg);
  await appendEvent(ctx, team, "message.sent", { id: msg.id, from: msg.from, to, summary: msg.summary, kind });
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

/** Messages in the spool (unread), complete lines only. */
function readSpool(ctx: Ctx, team: string, agent: string): Message[] {
  const text = readText(ctx.paths.spool(team, agent));
  return text ? parseJsonl<Message>(text).items : [];
}

/** Unread count without any lock (a stat when the inbox is empty). */
export function unreadCount(ctx: Ctx, team: string, agent: string): number {
  let size = 0;
  try {
    size = fs.statSync(ctx.paths.spool(team, agent)).size;
  } catch {
    return 0;
  }
  return size === 0 ? 0 : unreadPeek(ctx, team, agent).length;
}

/** Unread messages without marking them read. */
export function unreadPeek(ctx: Ctx, team: string, agent: string): Message[] {
  const spool = readSpool(ctx, team, agent);
  if (!spool.length) return [];
  const inbox = readJson(ctx.paths.inbox(team, agent), checkInbox);
  const seen = new Set(inbox?.messages.map((m) => m.id));
  return dedupe(spool).filter((m) => !seen.has(m.id));
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
  if (unreadOnly && unreadCountFast(ctx, team, agent) === 0) return { agent, messages: [], markedRead: false, unreadBefore: 0 };
  return markAllRead(ctx, team, agent, unreadOnly);
}

function unreadCountFast(ctx: Ctx, team: string, agent: string): number {
  try {
    return fs.statSync(ctx.paths.spool(team, agent)).size;
  } catch {
    return 0;
  }
}

/**
 * Saves a merged inbox, then the spool (what is still unread), then archives
 * overflow, in the one order where a crash at any point duplicates (readers
 * drop duplicates by id) but never loses or resurrects a message. Call under
 * the inbox lock. Returns how many messages were archived.
 */
function saveInbox(ctx: Ctx, team: string, agent: string, inbox: Inbox, stillUnread: Message[]): number {
  const inboxFile = ctx.paths.inbox(team, agent);
  const spoolFile = ctx.paths.spool(team, agent);
  writeJson(inboxFile, inbox);
  if (stillUnread.length) writeFileAtomicText(spoolFile, stillUnread.map((m) => JSON.stringify(m)).join("\n") + "\n");
  else try { fs.unlinkSync(spoolFile); } catch { /* no spool */ }
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
    const known = new Set(inbox.messages.map((m) => m.id));
    const fresh = dedupe(readSpool(ctx, team, agent)).filter((m) => !known.has(m.id));
    const legacyUnread = inbox.messages.filter((m) => !m.read);
    const newlyRead = [...legacyUnread, ...fresh];
    for (const m of newlyRead) m.read = true;
    inbox.messages.push(...fresh);
    const archived = newlyRead.length || !fs.existsSync(inboxFile) ? saveInbox(ctx, team, agent, inbox, []) : 0;
    return { messages: unreadOnly ? newlyRead : inbox.messages, newlyRead: newlyRead.length, archived, total: inbox.messages.length };
  });
  if (result.newlyRead) {
    await withLock(ctx.paths.messageIndex(team), () => {
      const idx = (readJson<{ agents: Record<string, { read: number; archived: number; lastReadAt: string }> }>(ctx.paths.messageIndex(team)) ?? { agents: {} });
      const prev = idx.agents[agent] ?? { read: 0, archived: 0, lastReadAt: "" };
      idx.agents[agent] = { read: result.total, archived: prev.archived + result.archived, lastReadAt: new Date(ctx.now()).toISOString() };
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
  const archiveText = readText(ctx.paths.archive(team, agent));
  const archived = archiveText ? parseJsonl<Message>(archiveText).items : [];
  const inbox = readJson(ctx.paths.inbox(team, agent), checkInbox)?.messages ?? [];
  const all = dedupe([...archived, ...inbox, ...readSpool(ctx, team, agent)]);
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
    const spool = dedupe(readSpool(ctx, team, agent)).filter((m) => !known.has(m.id));
    const moved = spool.filter((m) => want.has(m.id));
    const rest = spool.filter((m) => !want.has(m.id));
    let marked = 0;
    for (const m of inbox.messages) if (want.has(m.id) && !m.read) { m.read = true; marked++; }
    for (const m of moved) { m.read = true; marked++; }
    inbox.messages.push(...moved);
    if (marked) saveInbox(ctx, team, agent, inbox, rest);
    return marked;
  });
  if (n) await appendEvent(ctx, team, "message.read", { agent, count: n, ids: ids.slice(0, 50) });
  return n;
}
