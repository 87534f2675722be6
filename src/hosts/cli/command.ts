/** The shape of a CLI command: each command is one module in commands/, registered in commands/index.ts. */
import type { Ctx } from "../../context.js";

export interface Parsed { args: string[]; flags: Record<string, string | boolean> }

export interface Command {
  name: string;
  /** One line in the main help: the synopsis and what it does. */
  synopsis: string;
  /** The command's --help text. */
  help: string;
  /** Options that take a value / that do not. */
  values?: string[];
  bools?: string[];
  maxArgs: number;
  /** What the arguments are, for the error when there are too many. */
  argsHint: string;
  /** Runs it; returns the exit code. `ctx()` opens the store (lazily: help and version need none). */
  run(p: Parsed, ctx: () => Ctx): Promise<number>;
}

/** Options every command takes. */
export const GLOBAL_VALUES = ["as", "db"];
export const GLOBAL_BOOLS = ["help", "version"];
