/** Every path in the data directory is built here, from validated names only. */
import os from "node:os";
import path from "node:path";
import { invalid } from "../errors.js";

export const LEAD_NAME = "team-lead";
export const MAX_NAME_LENGTH = 64;
/** UTF-8 bytes: the longest file built from a name (name + ".json.corrupt-<time>-xxxx") must stay under NAME_MAX (255). */
export const MAX_NAME_BYTES = 192;
/** Names that would collide with our own files. */
const RESERVED = new Set(["index", "archive", "runtime"]);

/** The data directory: $CLANKER_TEAMS_DIR, else ~/.clanker. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.CLANKER_TEAMS_DIR;
  return d && d.trim() ? path.resolve(d) : path.join(os.homedir(), ".clanker");
}

const hex = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * What kind of character a name must not contain (undefined: fine). Refused:
 * anything that does not show as itself — controls, format and bidi controls
 * (Cf), line/paragraph separators, spaces other than U+0020, default-ignorable
 * characters (Hangul fillers, variation selectors…), private-use, unassigned
 * and lone surrogate code points.
 */
function hiddenKind(ch: string): string | undefined {
  if (/\p{Cc}/u.test(ch)) return "a control character (newline, tab, NUL…)";
  if (/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(ch)) return "a bidirectional-text control";
  if (/[\p{Zl}\p{Zp}]/u.test(ch)) return "a line or paragraph separator";
  if (/[\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/u.test(ch)) return "an invisible character";
  if (/\p{Zs}/u.test(ch) && ch !== " ") return "a space other than the plain space";
  if (/\p{Co}/u.test(ch)) return "a private-use character";
  if (/\p{Cs}/u.test(ch)) return "a lone surrogate (broken UTF-16)";
  if (/\p{Cn}/u.test(ch)) return "an unassigned code point";
  return undefined;
}

/**
 * Validates a team or agent name and returns it in NFC (so "josé" typed
 * either way is one name). Printable text is allowed (quotes, `$`, `;` reach
 * files and argv untouched); path separators, `..`, characters that do not
 * show as themselves and over-long names are refused with a message that says
 * how to fix it. Look-alikes of other members are teams.ts's job (confusables.ts).
 */
export function validateName(field: string, raw: unknown): string {
  if (typeof raw !== "string") throw invalid(field, `must be a string, got ${raw === undefined ? "nothing" : typeof raw}`);
  const value = raw.normalize("NFC");
  if (value.length === 0) throw invalid(field, "must not be empty; use letters, digits, '-' or '_' (e.g. \"backend-dev\")");
  const chars = [...value];
  if (chars.length > MAX_NAME_LENGTH) throw invalid(field, `is ${chars.length} characters; use at most ${MAX_NAME_LENGTH}`);
  if (Buffer.byteLength(value) > MAX_NAME_BYTES) throw invalid(field, `is ${Buffer.byteLength(value)} bytes in UTF-8; use at most ${MAX_NAME_BYTES} (fewer emoji or non-Latin characters)`);
  for (let i = 0; i < chars.length; i++) {
    const kind = hiddenKind(chars[i]!);
    if (kind) throw invalid(field, `contains ${kind} (${hex(chars[i]!)}) at character ${i + 1}; ${kind.includes("space") ? "use a plain space or '-'" : "remove it"}: a name must show every character it has`);
  }
  if (/[\\/]/.test(value)) throw invalid(field, `must not contain '/' or '\\' (got ${JSON.stringify(value)}); use '-' instead`);
  if (value === "." || value === ".." || value.startsWith(".")) throw invalid(field, `must not start with '.' (got ${JSON.stringify(value)})`);
  if (value !== value.trim()) throw invalid(field, "must not start or end with a space");
  if (RESERVED.has(value.toLowerCase())) throw invalid(field, `"${value}" is reserved; choose another name`);
  return value;
}

/** Task ids are decimal strings ("1", "42"). */
export function validateTaskId(field: string, value: unknown): string {
  const s = typeof value === "number" ? String(value) : value;
  if (typeof s !== "string" || !/^[1-9][0-9]{0,9}$/.test(s.trim())) {
    throw invalid(field, `must be a task id such as "3" (got ${JSON.stringify(value)}); task_list shows the ids`);
  }
  return s.trim();
}

/** Path builder bound to one data directory. */
export class Paths {
  constructor(readonly root: string) {}
  teamDir(team: string) { return path.join(this.root, "teams", validateName("team_name", team)); }
  teamConfig(team: string) { return path.join(this.teamDir(team), "config.json"); }
  runtimeDir(team: string) { return path.join(this.teamDir(team), "runtime"); }
  runtimeFile(team: string, agent: string) { return path.join(this.runtimeDir(team), `${validateName("agent_name", agent)}.json`); }
  /** Locked while a teammate of that name (case-insensitive) is being spawned. */
  spawnLock(team: string, agent: string) { return path.join(this.runtimeDir(team), `${validateName("agent_name", agent).toLowerCase()}.spawn`); }
  events(team: string) { return path.join(this.teamDir(team), "events.jsonl"); }
  /** Events not numbered yet, and the batch a drainer is numbering (docs/storage.md, "Events"). */
  eventsPending(team: string) { return path.join(this.teamDir(team), "events.pending.jsonl"); }
  eventsTaking(team: string) { return path.join(this.teamDir(team), "events.taking.jsonl"); }
  tasksDir(team: string) { return path.join(this.root, "tasks", validateName("team_name", team)); }
  taskIndex(team: string) { return path.join(this.tasksDir(team), "tasks.json"); }
  taskFile(team: string, id: string) { return path.join(this.tasksDir(team), `task_${validateTaskId("task_id", id)}.json`); }
  /** The index's change log since the snapshot. */
  taskLog(team: string) { return path.join(this.tasksDir(team), "tasks.log.jsonl"); }
  /** Commit record of a transaction over several tasks. */
  taskIntent(team: string) { return path.join(this.tasksDir(team), "tx.json"); }
  /** Id tickets for creators. */
  taskTickets(team: string) { return path.join(this.tasksDir(team), "ids.tickets"); }
  /** What one task's lock directory is named after (the lock is `<this>.lock`), away from the task files. */
  taskLock(team: string, id: string) { return path.join(this.tasksDir(team), "locks", `task_${validateTaskId("task_id", id)}`); }
  messagesDir(team: string) { return path.join(this.root, "messages", validateName("team_name", team)); }
  inbox(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.json`); }
  /** Unread messages not yet merged into the inbox file (append-only; see docs/storage.md). */
  spool(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.jsonl`); }
  /** Where a reader puts the spool while it merges it (a leftover one means that reader died). */
  spoolTaking(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.taking.jsonl`); }
  messageIndex(team: string) { return path.join(this.messagesDir(team), "index.json"); }
  archiveDir(team: string) { return path.join(this.messagesDir(team), "archive"); }
  archive(team: string, agent: string) { return path.join(this.archiveDir(team), `${validateName("agent_name", agent)}.jsonl`); }
  teamsRoot() { return path.join(this.root, "teams"); }
}
