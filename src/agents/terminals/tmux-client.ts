/** tmux plumbing shared by the tmux and headless adapters: socket choice, pane lookup, spawn args, kill. */

import { CliRunner, defaultExec, type Exec } from "./exec.js";
import { TerminalError } from "./errors.js";
import { launcherArgv } from "./launcher.js";
import { terminate } from "./process.js";
import { tmuxArg, tmuxLiteral } from "./quote.js";
import { envPairs } from "./spec.js";
import type { PaneRef, SpawnSpec } from "./types.js";

export interface TmuxServerOptions {
  /** tmux binary (default "tmux" on PATH). */
  bin?: string;
  /** Server socket path (`tmux -S`). Default: the socket in $TMUX, else tmux's default. */
  socketPath?: string;
  /** Server socket name (`tmux -L`), an alternative to socketPath. */
  socketName?: string;
  /** Config file used if this call starts the server (`tmux -f`). */
  configFile?: string;
  /** Environment for reading TMUX / TMUX_PANE and for running tmux (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Command runner (default execa). */
  exec?: Exec;
  /** How long a teammate gets between SIGTERM and SIGKILL on kill (default 2000 ms). */
  graceMs?: number;
}

/** What `-P -F PANE_FORMAT` prints for a new pane. */
export const PANE_FORMAT = "#{pane_id} #{pane_pid} #{socket_path}";

export interface NewPane {
  paneId: string;
  pid: number;
  socket: string;
}

const PANE_ID = /^%\d+$/;

/** Parse the output of {@link PANE_FORMAT}. */
export function parseNewPane(stdout: string): NewPane {
  const match = /^(%\d+) (\d+) (.*)$/.exec(stdout.trim().split("\n")[0] ?? "");
  if (!match) throw new TerminalError("TERMINAL_COMMAND_FAILED", `tmux did not report the new pane (got ${JSON.stringify(stdout)})`);
  return { paneId: match[1]!, pid: Number(match[2]), socket: match[3]! };
}

/** Throw INVALID_PANE unless `paneId` looks like a tmux pane id ("%12"). */
export function checkPaneId(paneId: string): void {
  if (!PANE_ID.test(paneId)) {
    throw new TerminalError("INVALID_PANE", `not a tmux pane id: ${JSON.stringify(paneId)} (expected something like "%12")`);
  }
}

/** The socket path from a $TMUX value ("/tmp/tmux-1000/default,1234,0"). */
export function socketFromTmuxEnv(tmux: string | undefined): string | undefined {
  if (!tmux) return undefined;
  const parts = tmux.split(",");
  // The path itself may contain commas; the last two fields are the server pid and session index.
  const path = parts.length >= 3 ? parts.slice(0, -2).join(",") : parts[0];
  return path || undefined;
}

/** One tmux server, addressed explicitly by socket so commands never depend on the caller's $TMUX. */
export class TmuxClient {
  private readonly runner: CliRunner;
  readonly socketPath: string | undefined;

  constructor(private readonly options: TmuxServerOptions) {
    const env = options.env ?? process.env;
    this.socketPath = options.socketPath ?? (options.socketName ? undefined : socketFromTmuxEnv(env.TMUX));
    this.runner = new CliRunner("tmux", options.bin ?? "tmux", options.exec ?? defaultExec, env);
  }

  /** The client for the server a stored pane lives on (its recorded socket wins). */
  forPane(pane: PaneRef): TmuxClient {
    if (!pane.socket || pane.socket === this.socketPath) return this;
    return new TmuxClient({ ...this.options, socketPath: pane.socket, socketName: undefined });
  }

  /** The global arguments selecting this server, e.g. ["-S", "/tmp/x.sock"]. */
  serverArgs(): string[] {
    const args: string[] = [];
    if (this.options.configFile) args.push("-f", this.options.configFile);
    if (this.socketPath) args.push("-S", this.socketPath);
    else if (this.options.socketName) args.push("-L", this.options.socketName);
    return args;
  }

  /** `tmux` plus the server arguments, for hints shown to people. */
  commandPrefix(): string {
    if (this.socketPath && this.options.socketPath) return `tmux -S ${this.socketPath}`;
    if (this.options.socketName) return `tmux -L ${this.options.socketName}`;
    return "tmux";
  }

  /** Run a tmux command; throws TerminalError on failure. */
  run(args: readonly string[], hint?: string): Promise<string> {
    return this.runner.run([...this.serverArgs(), ...args], hint, args[0]);
  }

  /** Run a tmux command and return the raw result (no throw on non-zero exit). */
  try(args: readonly string[]) {
    return this.runner.try([...this.serverArgs(), ...args]);
  }

  /** Arguments that start `spec` in a new pane: -c, -e, then the launcher argv after "--". */
  static spawnArgs(spec: SpawnSpec): string[] {
    const args = ["-c", tmuxLiteral(spec.cwd)];
    for (const pair of envPairs(spec.env)) args.push("-e", tmuxArg(pair));
    // Always several words after "--": tmux hands a lone word to `sh -c`, several to execvp.
    args.push("--", ...launcherArgv({ argv: spec.argv }).map(tmuxArg));
    return args;
  }

  /** Set the pane's title and tag it with user options (e.g. {"@clanker_lead": "%3"}). */
  async label(paneId: string, title: string, tags: Record<string, string>): Promise<void> {
    const args = ["select-pane", "-t", paneId, "-T", tmuxLiteral(title)];
    for (const [key, value] of Object.entries(tags)) args.push(";", "set-option", "-p", "-t", paneId, key, tmuxArg(value));
    await this.run(args);
  }

  /**
   * Where the pane stands: "gone" (no server, no such pane, or a different program in a reused id),
   * "dead" (kept open by remain-on-exit after its program ended), or "running" with the program's pid.
   */
  async paneState(pane: PaneRef): Promise<PaneState> {
    checkPaneId(pane.paneId);
    const result = await this.try(["display-message", "-p", "-t", pane.paneId, "#{pane_id} #{pane_pid} #{pane_dead}"]);
    if (result.exitCode !== 0) return { state: "gone" }; // no server, or no such pane
    const [id, pid, dead] = result.stdout.trim().split(" ");
    // display-message falls back to no pane at all when the target is missing: compare ids.
    if (id !== pane.paneId) return { state: "gone" };
    // A restarted server reuses pane ids: the pid tells our pane from a newcomer.
    if (pane.pid !== undefined && Number(pid) !== pane.pid) return { state: "gone" };
    return dead === "1" ? { state: "dead" } : { state: "running", pid: Number(pid) };
  }

  /**
   * Make the server reap exited children now. tmux 3.3 sometimes misses a pane process's exit, which then
   * stays a zombie (its pid still taken) until another child of the server exits; a no-op job is such a
   * child. The command is a constant: nothing of ours reaches the shell.
   */
  async reap(): Promise<void> {
    await this.try(["run-shell", "-b", "true"]);
  }

  /** End the pane's program (SIGTERM, then SIGHUP via kill-pane, then SIGKILL) and close the pane. */
  async killPane(pane: PaneRef): Promise<void> {
    const status = await this.paneState(pane);
    if (status.state === "gone") return;
    const closePane = async () => {
      await this.try(["kill-pane", "-t", pane.paneId]);
    };
    if (status.state === "dead") return closePane();
    const gone = await terminate(status.pid, { graceMs: this.options.graceMs, beforeKill: closePane });
    await closePane();
    if (!gone) {
      throw new TerminalError("TERMINAL_COMMAND_FAILED", `tmux pane ${pane.paneId}: process ${status.pid} survived SIGKILL`);
    }
  }
}

export type PaneState = { state: "gone" } | { state: "dead" } | { state: "running"; pid: number };
