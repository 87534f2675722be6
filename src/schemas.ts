/** Stored data formats. Types come from these schemas (see docs/storage.md). */
import { z } from "zod";

export const TASK_STATUSES = ["pending", "planning", "in_progress", "completed", "deleted"] as const;
export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const THINKING_LEVELS = ["off", "minimal", "low", "medium", "high"] as const;
export const ThinkingLevel = z.enum(THINKING_LEVELS);
export type ThinkingLevel = z.infer<typeof ThinkingLevel>;

/**
 * A time as an ISO 8601 string (what every documented file holds). Files of
 * earlier versions held epoch milliseconds: those still read, as ISO strings.
 */
export const IsoTime = z.preprocess((v) => (typeof v === "number" && Number.isFinite(v) ? new Date(v).toISOString() : v), z.string());

/** Milliseconds since the epoch of an ISO time (NaN when it does not parse). */
export function timeMs(iso: string | undefined): number {
  return iso === undefined ? NaN : Date.parse(iso);
}

export const PaneRefSchema = z.object({
  kind: z.enum(["tmux", "zellij", "iterm2", "wezterm", "headless"]),
  paneId: z.string(),
  pid: z.number().optional(),
  session: z.string().optional(),
  socket: z.string().optional(),
  title: z.string().optional(),
}).loose();

/** A token and/or cost budget (domain/budgets.ts). */
export const BudgetLimitSchema = z.object({ tokens: z.number().positive().optional(), cost_usd: z.number().positive().optional() }).loose();
export type BudgetLimit = z.infer<typeof BudgetLimitSchema>;

export const MemberSchema = z.object({
  name: z.string(),
  agentId: z.string(),
  role: z.enum(["lead", "teammate"]),
  model: z.string().optional(),
  thinking: ThinkingLevel.optional(),
  cwd: z.string().optional(),
  color: z.string().optional(),
  prompt: z.string().optional(),
  planModeRequired: z.boolean().optional(),
  pane: PaneRefSchema.optional(),
  joinedAt: IsoTime,
  /** "worktree": works in a git worktree and branch of its own (see `worktree`). */
  isolation: z.enum(["shared", "worktree"]).optional(),
  /** The teammate's worktree: its repository, directory, branch, the lead's branch it started from, and the cwd inside it. */
  worktree: z.object({ repo: z.string(), dir: z.string(), branch: z.string(), base: z.string(), subdir: z.string().optional() }).loose().optional(),
  /** Its own budget (domain/budgets.ts). */
  budget: BudgetLimitSchema.optional(),
}).loose();
export type Member = z.infer<typeof MemberSchema>;

export const TeamConfigSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  createdAt: IsoTime,
  leadName: z.string(),
  defaultModel: z.string().optional(),
  defaultThinking: ThinkingLevel.optional(),
  agentCmd: z.array(z.string()).optional(),
  hookTimeoutMs: z.number().optional(),
  /** Default isolation of spawned teammates ("shared" when absent). */
  isolation: z.enum(["shared", "worktree"]).optional(),
  /** Team budget: all teammates together (domain/budgets.ts). */
  budget: BudgetLimitSchema.optional(),
  /** Where teammates' worktrees go (default <data dir>/worktrees). */
  worktreeDir: z.string().optional(),
  /** A teammate idle this long while it owns an in_progress task is nudged (domain/stuck.ts; default 180 000). */
  stuckAfterMs: z.number().positive().optional(),
  members: z.array(MemberSchema),
}).loose();
export type TeamConfig = z.infer<typeof TeamConfigSchema>;

export const TaskSchema = z.object({
  id: z.string(),
  subject: z.string(),
  description: z.string(),
  status: TaskStatus,
  owner: z.string().optional(),
  plan: z.string().optional(),
  planFeedback: z.string().optional(),
  /** none → submitted → approved | rejected */
  planStatus: z.enum(["none", "submitted", "approved", "rejected"]).optional(),
  /** Output of a completion hook that vetoed completion. */
  hookFeedback: z.string().optional(),
  blocks: z.array(z.string()),
  blockedBy: z.array(z.string()),
  activeForm: z.string().optional(),
  createdBy: z.string().optional(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  claimedAt: IsoTime.optional(),
  completedAt: IsoTime.optional(),
  /** Lease epoch: counts the claims of this task (a claim result names it). */
  epoch: z.number().int().optional(),
  /** The claimer's session (its host process): a lease lost to the sweep fences that session. */
  claimSession: z.string().optional(),
  /** Sessions whose claim on this task was taken away (lease expired, killed): they may not edit it any more. */
  fenced: z.array(z.object({ agent: z.string(), session: z.string(), at: IsoTime, reason: z.string() }).loose()).optional(),
}).loose();
export type Task = z.infer<typeof TaskSchema>;

/** One row of tasks.json: what task_list shows without opening each task file. */
export const TaskSummarySchema = z.object({
  id: z.string(),
  subject: z.string(),
  status: TaskStatus,
  owner: z.string().optional(),
  blockedBy: z.array(z.string()),
  blocks: z.array(z.string()),
  createdAt: IsoTime,
}).loose();
export type TaskSummary = z.infer<typeof TaskSummarySchema>;

/** tasks.json: a snapshot of the index; the changes since are in tasks.log.jsonl (see docs/storage.md). */
export const TaskIndexSchema = z.object({
  nextId: z.number().int().positive(),
  tasks: z.record(z.string(), TaskSummarySchema),
  /** Ids whose rows may be stale (a writer was replacing their files): re-read from the files. */
  pending: z.array(z.string()).optional(),
  /** The change log that continues this snapshot: its id (header line) and the byte offset to read from. */
  log: z.object({ id: z.string(), offset: z.number().int().nonnegative() }).optional(),
}).loose();
export type TaskIndex = z.infer<typeof TaskIndexSchema>;

/** One line of tasks.log.jsonl: the header naming the log, a task's new row, or a task whose row is about to change. */
export const TaskLogLineSchema = z.union([
  z.object({ log: z.string() }).loose(),
  z.object({ row: TaskSummarySchema }).loose(),
  z.object({ pending: z.string() }).loose(),
]);
export type TaskLogLine = z.infer<typeof TaskLogLineSchema>;

export const MessageSchema = z.object({
  id: z.string(),
  from: z.string(),
  to: z.string(),
  content: z.string(),
  summary: z.string(),
  timestamp: z.string(),
  read: z.boolean(),
  color: z.string().optional(),
  kind: z.string().optional(),
}).loose();
export type Message = z.infer<typeof MessageSchema>;

export const InboxSchema = z.object({ messages: z.array(MessageSchema) }).loose();
export type Inbox = z.infer<typeof InboxSchema>;

export const EventSchema = z.object({
  seq: z.number().int(),
  time: z.string(),
  actor: z.string(),
  kind: z.string(),
  data: z.record(z.string(), z.unknown()),
}).loose();
export type TeamEvent = z.infer<typeof EventSchema>;

export const RuntimeSchema = z.object({
  agent: z.string(),
  pid: z.number(),
  host: z.string(),
  pane: z.string().optional(),
  /** "error": the agent runs but its last model call failed (see `error`) and none has succeeded since. */
  state: z.enum(["starting", "idle", "busy", "error", "stopped"]),
  heartbeatAt: IsoTime,
  startedAt: IsoTime,
  /** A random id per agent process: fencing tells a process that lost its claims from a new one of the same name. */
  session: z.string().optional(),
  currentTask: z.string().optional(),
  shutdownRequested: z.boolean().optional(),
  /** Why the model fails (state "error"), or why the process ended (state "stopped"). */
  error: z.string().optional(),
  /** Since when (store clock) the agent has been idle; null while it works. */
  idleSince: z.string().nullable().optional(),
  /** What its model calls used so far (domain/budgets.ts keeps the account). */
  usage: z.object({ tokens: z.number(), costUsd: z.number(), calls: z.number() }).loose().optional(),
}).loose();
export type Runtime = z.infer<typeof RuntimeSchema>;

/** Parses with a schema, turning zod issues into one readable line. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new Error(`${what}: ${first.path.join(".") || "(root)"}: ${first.message}`);
}
