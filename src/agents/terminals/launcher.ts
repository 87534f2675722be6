/**
 * The tiny pid launcher: a constant /bin/sh script that records its pid, sets
 * the environment, and `exec`s the real program, so the pid it wrote is the
 * program's. User data travels only as positional arguments ("$1", "$@"),
 * never inside the script text, so nothing in it is ever parsed by a shell.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { shQuote } from "./quote.js";
import { envPairs } from "./spec.js";

/**
 * `sh -c` script. Arguments: pid file ("" = none), title ("" = none), then
 * KEY=VALUE pairs, then "--", then the program's argv. `export "$1"` takes the
 * pair from a parameter, so the value is never re-parsed.
 */
export const LAUNCHER_SCRIPT =
  'p=$1 t=$2; shift 2; ' +
  'while [ "$1" != -- ]; do export "$1"; shift; done; shift; ' +
  'if [ -n "$t" ]; then printf "\\033]2;%s\\007" "$t"; fi; ' +
  'if [ -n "$p" ]; then echo $$ > "$p"; fi; ' +
  'exec "$@"';

export interface LaunchOptions {
  argv: readonly string[];
  env?: Record<string, string>;
  /** File the launcher writes its pid to. */
  pidFile?: string;
  /** Window title to set with an OSC 2 escape before exec (already cleaned of control characters). */
  title?: string;
}

/** argv that runs `options.argv` through the pid launcher. */
export function launcherArgv(options: LaunchOptions): string[] {
  return [
    "/bin/sh",
    "-c",
    LAUNCHER_SCRIPT,
    "clanker-launch",
    options.pidFile ?? "",
    options.title ?? "",
    ...envPairs(options.env),
    "--",
    ...options.argv,
  ];
}

/**
 * A POSIX sh script file that does what {@link launcherArgv} does plus `cd`, for
 * terminals that can only type a command line (iTerm2). Every value is quoted
 * with shQuote; raw newlines inside quotes are fine in a file. It deletes itself.
 */
export function launchScript(options: LaunchOptions & { cwd: string }): string {
  const lines = ["# clanker-teams: starts one teammate, then deletes itself", 'rm -f -- "$0"'];
  if (options.pidFile) lines.push(`echo $$ > ${shQuote(options.pidFile)}`);
  lines.push(`cd -- ${shQuote(options.cwd)} || { echo "clanker-teams: cannot cd to the teammate's directory" >&2; exit 1; }`);
  for (const pair of envPairs(options.env)) lines.push(`export ${shQuote(pair)}`);
  lines.push(`exec ${options.argv.map(shQuote).join(" ")}`);
  return lines.join("\n") + "\n";
}

/** A private (0700) directory for pid files and launch scripts, created on first use. */
export class RunDir {
  private dir: string | undefined;

  constructor(private readonly fixed?: string) {}

  /** The directory path. */
  path(): string {
    this.dir ??= this.fixed ?? mkdtempSync(join(tmpdir(), "clanker-teams-"));
    return this.dir;
  }

  /** A fresh file path in the directory, e.g. "pid-3f9a...". */
  file(prefix: string, suffix = ""): string {
    return join(this.path(), `${prefix}-${randomBytes(6).toString("hex")}${suffix}`);
  }

  /** Write `text` to a new private (0600) file and return its path. */
  writePrivate(prefix: string, suffix: string, text: string): string {
    const path = this.file(prefix, suffix);
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
    return path;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Wait for the launcher to write its pid; returns it (and removes the file) or undefined after `timeoutMs`. */
export async function readPidFile(path: string, timeoutMs = 5000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // Not written yet.
    }
    const match = /^(\d+)\n/.exec(text);
    if (match) {
      rmSync(path, { force: true });
      return Number(match[1]);
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(20);
  }
}
