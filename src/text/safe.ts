/**
 * Agent-written text made safe for a person's terminal.
 *
 * Any string an agent wrote (task subjects, descriptions, summaries, names,
 * models, event data) may carry escape sequences that set the window title,
 * clear the screen, write the clipboard (OSC 52) or forge table rows. Before
 * such text is printed it goes through {@link visible} (one line) or
 * {@link visibleBlock} (newlines kept). Notation, as in a JavaScript string:
 * `\n` `\r` `\t`, other C0/C1 controls and DEL as `\x1b`, invisible format
 * characters (bidi overrides and isolates, zero-width characters, BOM, tag
 * characters, Hangul fillers, stray variation selectors) as `\u202e` or
 * `\u{e0041}`. It is for reading, not reversible: a backslash the agent wrote
 * is printed as is.
 */

// One code point at a time (the `u` flag keeps surrogate pairs whole).
const CODE_POINTS = /[\s\S]/gu;
const FORMAT = /^[\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0\u034F\u17B4\u17B5\u180B-\u180F]$/u;
const VARIATION = /^[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]$/u;
const EMOJI = /^\p{Extended_Pictographic}$/u;
const EMOJI_BASE = /^\p{Emoji}$/u;
const EMOJI_MODIFIER = /^[\uFE0F\u{1F3FB}-\u{1F3FF}]$/u;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function hex(cp: number): string {
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, "0")}` : `\\u{${cp.toString(16)}}`;
}

/** True if the code point `ch` at position `i` of `cps` would not be shown faithfully. */
function unsafeAt(cps: string[], i: number): boolean {
  const ch = cps[i]!;
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  if (cp < 0x7f) return false;
  if (ch === "\u200d") {
    // A zero-width joiner inside an emoji sequence (👩‍💻) is how that emoji is spelled; anywhere else it hides.
    let j = i - 1;
    if (j >= 0 && EMOJI_MODIFIER.test(cps[j]!)) j--;
    return !(j >= 0 && EMOJI.test(cps[j]!) && i + 1 < cps.length && EMOJI.test(cps[i + 1]!));
  }
  if (VARIATION.test(ch)) return !(i > 0 && EMOJI_BASE.test(cps[i - 1]!)); // ❤️ keeps its VS16
  return FORMAT.test(ch);
}

function escape(s: string, keepNewlines: boolean): string {
  const cps = s.match(CODE_POINTS) ?? [];
  let out = "";
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i]!;
    if (keepNewlines && ch === "\n") out += ch;
    else if (unsafeAt(cps, i)) out += SHORT[ch] ?? hex(ch.codePointAt(0)!);
    else out += ch;
  }
  return out;
}

/** One line of text safe to print: every control, newline, tab and invisible format character shown as an escape. */
export function visible(s: unknown): string {
  return escape(typeof s === "string" ? s : String(s ?? ""), false);
}

/** Like {@link visible} but keeps line breaks ("\n"), for messages that span lines. */
export function visibleBlock(s: unknown): string {
  return escape(typeof s === "string" ? s : String(s ?? ""), true);
}

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200d\uFE00-\uFE0F]$/u;
const WIDE = /^[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}\p{Emoji_Presentation}]$/u;

function charWidth(ch: string): number {
  return ZERO_WIDTH.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
}

/** Columns `s` takes on a terminal (our own SGR colour codes count zero; East Asian wide and emoji count two). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(SGR, "").match(CODE_POINTS) ?? []) w += charWidth(ch);
  return w;
}

/** `s` (already made visible, no colour codes) cut to at most `max` columns, ending in "…" when cut. */
export function cut(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = "";
  let w = 0;
  for (const ch of s.match(CODE_POINTS) ?? []) {
    const cw = charWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

/** An agent-written value as one table cell: made visible, then cut to `max` columns. */
export function cell(s: unknown, max = Infinity): string {
  return cut(visible(s), max);
}

/** `s` padded with spaces to `width` columns. */
export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - displayWidth(s)));
}

// What JSON.stringify leaves raw but a terminal would act on or hide: DEL, C1, format characters, line separators.
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u034F\u17B4\u17B5\u180B-\u180F\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/gu;

/** JSON.stringify whose output is safe on a terminal: everything a terminal would act on is a \u escape (same JSON value). */
export function jsonForTerminal(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent) ?? "null";
  // These characters occur only inside JSON strings, where \uXXXX (a surrogate pair above U+FFFF) means the same.
  return text.replace(JSON_UNSAFE, (ch) => [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`).join(""));
}
