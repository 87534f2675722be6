/** Running terminal CLIs: argv arrays only, never a shell. Injectable for tests. */

import { execa } from "execa";
import { TerminalError } from "./errors.js";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Run `file` with `args` and resolve with its output whatever the exit code.
 * Rejects only when the program cannot be started; `err.code === "ENOENT"` means not installed.
 */
export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** The default {@link Exec}: execa with no shell, stdin closed, a timeout, and `env` layered over process.env. */
export const defaultExec: Exec = async (file, args, options = {}) => {
  const result = await execa(file, [...args], {
    reject: false,
    stdin: "ignore",
    env: options.env,
    extendEnv: true,
    timeout: options.timeoutMs ?? 15_000,
    stripFinalNewline: true,
  });
  if (result.failed && result.exitCode === undefined) {
    const cause = (result as { cause?: { code?: string } }).cause;
    const err = new Error(result.message) as Error & { code?: string };
    err.code = (result as { code?: string }).code ?? cause?.code;
    throw err;
  }
  return { stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? ""), exitCode: result.exitCode ?? 1 };
};

/** Install hints per tool, used in "not installed" errors. */
const INSTALL_HINT: Record<string, string> = {
  tmux: "install it (apt-get install tmux, brew install tmux) or run the lead inside Zellij, iTerm2 or WezTerm",
  zellij: "install it (https://zellij.dev) or run the lead inside tmux",
  wezterm: "install it (https://wezterm.org) or run the lead inside tmux",
  osascript: "iTerm2 panes need macOS's osascript; run the lead inside tmux instead",
};

/** A small runner bound to one binary: turns spawn failures and non-zero exits into TerminalErrors. */
export class CliRunner {
  constructor(
    readonly tool: string,
    readonly bin: string,
    private readonly exec: Exec,
    private readonly env: NodeJS.ProcessEnv | undefined,
  ) {}

  /** Run and return the result, throwing only if the binary cannot be started. */
  async try(args: readonly string[]): Promise<ExecResult> {
    try {
      return await this.exec(this.bin, args, { env: this.env });
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") {
        throw new TerminalError(
          "TERMINAL_NOT_INSTALLED",
          `${this.tool} is not installed (no "${this.bin}" on PATH): ${INSTALL_HINT[this.tool] ?? "install it"}, ` +
            `or set CLANKER_TEAMS_TERMINAL to another terminal`,
          { cause: err },
        );
      }
      throw new TerminalError("TERMINAL_COMMAND_FAILED", `${this.tool} could not be started: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Run and return stdout; a non-zero exit becomes a TerminalError quoting the tool's stderr and `hint`.
   * `what` names the subcommand in the message (default: the first argument not starting with "-").
   */
  async run(args: readonly string[], hint = "", what = args.find((a) => !a.startsWith("-")) ?? ""): Promise<string> {
    const result = await this.try(args);
    if (result.exitCode !== 0) {
      const detail = (result.stderr || result.stdout).trim() || `exit code ${result.exitCode}`;
      throw new TerminalError(
        "TERMINAL_COMMAND_FAILED",
        `${this.tool} ${what} failed: ${detail}${hint ? `. ${hint}` : ""}`,
      );
    }
    return result.stdout;
  }
}

/** Options every non-tmux adapter takes. */
export interface AdapterBaseOptions {
  /** The terminal's CLI binary (default: its usual name on PATH). */
  bin?: string;
  /** Command runner (default execa). */
  exec?: Exec;
  /** The lead's environment: where WEZTERM_PANE, ZELLIJ_SESSION_NAME... are read, and the CLI's env. */
  env?: NodeJS.ProcessEnv;
  /** Private directory for pid files and launch scripts (default: a fresh 0700 temp dir). */
  runDir?: string;
  /** How long a teammate gets between SIGTERM and SIGKILL on kill (default 2000 ms). */
  graceMs?: number;
  /** How long to wait for a new pane's program to report its pid (default 5000 ms). */
  pidTimeoutMs?: number;
}
