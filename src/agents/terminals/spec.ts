/** Validation of spawn requests, shared by every adapter. */

import { isAbsolute } from "node:path";
import { TerminalError } from "./errors.js";
import type { SpawnSpec } from "./types.js";
import { cut, visible } from "../../text/safe.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throw a TerminalError naming the field and the fix if `spec` cannot be launched safely. */
export function validateSpec(spec: SpawnSpec): void {
  const bad = (field: string, why: string): never => {
    throw new TerminalError("INVALID_SPAWN_SPEC", `spawn: ${field} ${why}`);
  };
  if (!Array.isArray(spec.argv) || spec.argv.length === 0) bad("argv", "must name a program to run (argv[0])");
  const program = spec.argv[0]!;
  if (program === "") bad("argv[0]", "is empty: give the program name or path");
  // `exec -x` is an option to bash and "command not found" to dash: no portable way to run it.
  if (program.startsWith("-")) bad("argv[0]", `"${program}" starts with "-": give the program as a path, e.g. ./${program}`);
  spec.argv.forEach((arg, i) => {
    if (typeof arg !== "string") bad(`argv[${i}]`, "is not a string");
    if (arg.includes("\0")) bad(`argv[${i}]`, "contains a NUL byte, which no process argument can carry");
  });
  if (typeof spec.cwd !== "string" || !isAbsolute(spec.cwd)) bad("cwd", `must be an absolute path (got ${JSON.stringify(spec.cwd)})`);
  if (spec.cwd.includes("\0")) bad("cwd", "contains a NUL byte");
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) bad(`env key ${JSON.stringify(name)}`, "is not a valid variable name: use letters, digits and _");
    if (typeof value !== "string") bad(`env.${name}`, "must be a string");
    if (value.includes("\0")) bad(`env.${name}`, "contains a NUL byte");
  }
  if (typeof spec.title !== "string") bad("title", "must be a string");
}

/** Longest pane title, in columns (longer ones are cut with "…"). */
export const MAX_TITLE = 100;

/**
 * The title as it may reach a terminal: trimmed, control and invisible characters shown as
 * escapes (`\x1b`, `\n`, `\u202e`: text/safe.ts) so it cannot smuggle escape sequences or
 * reverse text, cut to {@link MAX_TITLE} columns; "teammate" if nothing is left.
 */
export function cleanTitle(title: string): string {
  return cut(visible(title.trim()), MAX_TITLE) || "teammate";
}

/** The env entries as `KEY=VALUE` strings. */
export function envPairs(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}
