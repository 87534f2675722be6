/**
 * Headless adapter: when the lead is in no multiplexer, teammates still run,
 * each in its own window of a detached tmux session named after the team.
 * A person can look in with `tmux attach -t clanker-<team>`.
 */

import { createHash } from "node:crypto";
import { TerminalError } from "./errors.js";
import { Serial } from "./serial.js";
import { cleanTitle, validateSpec } from "./spec.js";
import { PANE_FORMAT, parseNewPane, TmuxClient, type TmuxServerOptions } from "./tmux-client.js";
import { tmuxLiteral } from "./quote.js";
import type { PaneRef, SpawnSpec, TerminalAdapter } from "./types.js";

export interface HeadlessAdapterOptions extends TmuxServerOptions {
  /** Team name; the session is {@link headlessSessionName}(team) unless `sessionName` is given. */
  team: string;
  sessionName?: string;
  /** Size of the detached session's windows before anyone attaches (default 200x50). */
  width?: number;
  height?: number;
}

/** User option that tags each teammate pane with its team. */
export const TEAM_TAG = "@clanker_team";

/**
 * "clanker-<team>", with characters tmux treats specially (".", ":", "#", spaces...) replaced
 * by "_" and a short hash added when anything was replaced, so distinct teams never share a session.
 */
export function headlessSessionName(team: string): string {
  const safe = team.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 48);
  if (safe === team && safe !== "") return `clanker-${safe}`;
  const hash = createHash("sha256").update(team).digest("hex").slice(0, 6);
  return `clanker-${safe}-${hash}`;
}

/** Teammates in a detached tmux session, one window each; the session ends with its last window. */
export class HeadlessAdapter implements TerminalAdapter {
  readonly kind = "headless" as const;
  readonly client: TmuxClient;
  readonly session: string;
  private readonly serial = new Serial();

  constructor(private readonly options: HeadlessAdapterOptions) {
    if (!options.team && !options.sessionName) {
      throw new TerminalError("INVALID_SPAWN_SPEC", "headless terminal: a team name is required to name its tmux session");
    }
    this.client = new TmuxClient(options);
    this.session = options.sessionName ?? headlessSessionName(options.team);
  }

  /** Open a new window for `spec` in the team's session, creating the session if needed. */
  async spawn(spec: SpawnSpec): Promise<PaneRef> {
    validateSpec(spec);
    return this.serial.run(async () => {
      const title = cleanTitle(spec.title);
      const common = ["-n", tmuxLiteral(title), "-P", "-F", PANE_FORMAT, ...TmuxClient.spawnArgs(spec)];
      let created = (await this.exists())
        ? undefined
        : await this.client.try([
            "new-session", "-d", "-s", this.session,
            "-x", String(this.options.width ?? 200), "-y", String(this.options.height ?? 50),
            ...common,
          ]);
      // Absent, or another process created the session in between: add a window instead.
      if (!created || (created.exitCode !== 0 && /duplicate session/.test(created.stderr))) {
        created = await this.client.try(["new-window", "-d", "-t", `=${this.session}:`, ...common]);
      }
      if (created.exitCode !== 0) {
        throw new TerminalError(
          "TERMINAL_COMMAND_FAILED",
          `tmux could not open a window for ${JSON.stringify(spec.title)} in session ${this.session}: ${created.stderr.trim()}`,
        );
      }
      const pane = parseNewPane(created.stdout);
      await this.client.label(pane.paneId, title, { [TEAM_TAG]: this.session });
      return { kind: this.kind, paneId: pane.paneId, pid: pane.pid, session: this.session, socket: pane.socket, title };
    });
  }

  /** True if the team's session exists. */
  async exists(): Promise<boolean> {
    return (await this.client.try(["has-session", "-t", `=${this.session}`])).exitCode === 0;
  }

  /** True while the pane exists and runs the program it was started with. */
  async isAlive(pane: PaneRef): Promise<boolean> {
    return (await this.client.forPane(pane).paneState(pane)).state === "running";
  }

  /** Stop the pane's program and close its window (the session goes with its last window). */
  kill(pane: PaneRef): Promise<void> {
    return this.client.forPane(pane).killPane(pane);
  }

  /** Make the pane's tmux server reap exited pane processes now. */
  reap(pane: PaneRef): Promise<void> {
    return this.client.forPane(pane).reap();
  }

  /** Stop every teammate in the session (gracefully, like kill) and remove the session; a no-op if it is gone. */
  async destroy(): Promise<void> {
    const listed = await this.client.try(["list-panes", "-s", "-t", `=${this.session}`, "-F", "#{pane_id} #{pane_pid}"]);
    if (listed.exitCode !== 0) return;
    const panes = listed.stdout.split("\n").filter(Boolean).map((line) => line.split(" "));
    await Promise.all(panes.map(([paneId, pid]) => this.client.killPane({ kind: this.kind, paneId: paneId!, pid: Number(pid) })));
    await this.client.try(["kill-session", "-t", `=${this.session}`]);
  }

  /** How to attach to the detached session. */
  attachHint(): string {
    return `${this.client.commandPrefix()} attach -t ${this.session}`;
  }
}
