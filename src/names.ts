/**
 * Team and agent names (and task ids): the one validator every name passes
 * (DESIGN invariant 3), shared by the domain and the stores. Look-alike
 * member names are the domain's check (confusables.ts, domain/teams.ts).
 */
import { invalid } from "./errors.js";

export const LEAD_NAME = "team-lead";
export const MAX_NAME_LENGTH = 64;
/** UTF-8 bytes: the longest file built from a name (name + ".json.corrupt-<time>-xxxx") must stay under NAME_MAX (255). */
export const MAX_NAME_BYTES = 192;
/** Names that would collide with our own files. */
const RESERVED = new Set(["index", "archive", "runtime"]);

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
