/**
 * Mail between members: validation and who may read what. Delivery, read
 * marking and history are the store's (exactly once, durable when acknowledged).
 */
import { nanoid } from "nanoid";
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import type { Message } from "../schemas.js";
import type { HistoryPage } from "../store/types.js";
import { LEAD_NAME, validateName } from "../names.js";
import { ev } from "./events.js";
import { isLead, memberNames, readTeam, requireMember } from "./teams.js";

export const MAX_CONTENT_BYTES = 256 * 1024;
export const MAX_SUMMARY_CHARS = 200;
/** Name used as sender of notifications the system itself sends (task recovery, self-notifications). */
export const SYSTEM_SENDER = "clanker-teams";

export interface SendInput { recipient: string; content: string; summary: string; color?: string; kind?: string }

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

function newMessage(ctx: Ctx, from: string, to: string, input: Omit<SendInput, "recipient">): Message {
  const msg: Message = {
    id: nanoid(12),
    from,
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

function sentEvent(ctx: Ctx, m: Message) {
  return ev(ctx, "message.sent", { id: m.id, from: m.from, to: m.to, summary: m.summary, kind: m.kind });
}

/** Sends one message from the caller to a member (team-lead is always valid). */
export async function sendMessage(ctx: Ctx, team: string, input: SendInput): Promise<Message> {
  const cfg = await readTeam(ctx, team);
  const from = requireMember(cfg, "sender (your identity)", ctx.actor);
  const to = requireMember(cfg, "recipient", input.recipient);
  if (to === from) throw invalid("recipient", "is you; send to another member");
  const msg = newMessage(ctx, from, to, input);
  await ctx.store.deliver(team, [msg], [sentEvent(ctx, msg)]);
  return msg;
}

/** Delivers a notification from the system (not a member) to a member. */
export async function systemMessage(ctx: Ctx, team: string, to: string, summary: string, content: string, kind: string): Promise<Message> {
  const msg = newMessage(ctx, SYSTEM_SENDER, to, { content, summary: summary.slice(0, MAX_SUMMARY_CHARS), kind });
  await ctx.store.deliver(team, [msg], [{ actor: SYSTEM_SENDER, kind: "message.sent", data: { id: msg.id, from: msg.from, to, summary: msg.summary, kind } }]);
  return msg;
}

/** Sends to every member except the caller, in one atomic delivery. */
export async function broadcastMessage(ctx: Ctx, team: string, input: Omit<SendInput, "recipient">): Promise<Message[]> {
  const cfg = await readTeam(ctx, team);
  const from = requireMember(cfg, "sender (your identity)", ctx.actor);
  const targets = memberNames(cfg).filter((n) => n !== from);
  // Validate once before delivering anything, so bad input sends nothing.
  newMessage(ctx, from, LEAD_NAME, input);
  const sent = targets.map((to) => newMessage(ctx, from, to, input));
  if (sent.length) await ctx.store.deliver(team, sent, [ev(ctx, "message.broadcast", { from, to: targets, summary: input.summary, ids: sent.map((m) => m.id) })]);
  return sent;
}

/** Unread count without changing anything. */
export async function unreadCount(ctx: Ctx, team: string, agent: string): Promise<number> {
  return ctx.store.unreadCount(team, agent);
}

/** Unread messages without marking them read. */
export async function unreadPeek(ctx: Ctx, team: string, agent: string): Promise<Message[]> {
  return ctx.store.unread(team, agent);
}

export interface ReadInboxInput { agent_name?: string; unread_only?: boolean }
export interface ReadInboxResult { agent: string; messages: Message[]; markedRead: boolean; unreadBefore: number }

/**
 * Reads an inbox. Unread only unless unread_only is false. The owner's read
 * marks messages read; the lead inspecting another inbox marks nothing.
 */
export async function readInbox(ctx: Ctx, team: string, input: ReadInboxInput = {}): Promise<ReadInboxResult> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "agent_name (your identity)", ctx.actor);
  const agent = input.agent_name ? requireMember(cfg, "agent_name", input.agent_name) : me;
  const unreadOnly = input.unread_only !== false;
  const own = agent === me;
  if (!own && !isLead(cfg, me)) {
    throw new TeamsError("FORBIDDEN", `agent_name: only the lead may read another member's inbox; omit agent_name to read your own (${me}).`);
  }
  if (!own) {
    const unread = await ctx.store.unread(team, agent);
    if (unreadOnly) return { agent, messages: unread, markedRead: false, unreadBefore: unread.length };
    const all = await ctx.store.history(team, agent, { limit: 500 });
    return { agent, messages: all.messages, markedRead: false, unreadBefore: unread.length };
  }
  const marked = await ctx.store.markRead(team, agent, "all", me);
  if (unreadOnly) return { agent, messages: marked, markedRead: marked.length > 0, unreadBefore: marked.length };
  const all = await ctx.store.history(team, agent, { limit: 500 });
  return { agent, messages: all.messages, markedRead: marked.length > 0, unreadBefore: marked.length };
}

/**
 * Marks exactly these messages read (after a host delivered them into the
 * conversation). Messages that arrived since stay unread.
 */
export async function markRead(ctx: Ctx, team: string, agent: string, ids: string[]): Promise<number> {
  if (!ids.length) return 0;
  return (await ctx.store.markRead(team, agent, ids, ctx.actor)).length;
}

/** An inbox's full history, newest last, paged back (`before`: an index into the whole history). */
export async function readHistory(ctx: Ctx, team: string, agent: string, opts: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
  validateName("agent_name", agent);
  return ctx.store.history(team, agent, opts);
}
