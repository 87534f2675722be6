/**
 * WezTerm adapter: `wezterm cli split-pane` splits the lead's own pane
 * ($WEZTERM_PANE) to the right for the first teammate, then the tallest
 * teammate pane downwards. The pid launcher records the program's pid and sets
 * the pane title; isAlive and kill work by pid, `kill-pane` closes what is left.
 */

import { CliRunner, defaultExec, type AdapterBaseOptions } from "./exec.js";
import { TerminalError } from "./errors.js";
import { launcherArgv, readPidFile, RunDir } from "./launcher.js";
import { isPidAlive, terminate } from "./process.js";
import { Serial } from "./serial.js";
import { cleanTitle, validateSpec } from "./spec.js";
import type { PaneRef, SpawnSpec, TerminalAdapter } from "./types.js";

export interface WeztermAdapterOptions extends AdapterBaseOptions {
  /** The lead's pane id (default $WEZTERM_PANE). */
  leadPane?: string;
  /** Width of the teammate column in percent (default 45, so the lead stays widest). */
  teammatePercent?: number;
}

interface ListedPane {
  pane_id: number;
  tab_id: number;
  size?: { rows: number; cols: number };
}

/** Teammate panes split off the lead's WezTerm pane. */
export class WeztermAdapter implements TerminalAdapter {
  readonly kind = "wezterm" as const;
  private readonly runner: CliRunner;
  private readonly runDir: RunDir;
  private readonly env: NodeJS.ProcessEnv;
  private readonly serial = new Serial();
  /** Teammate panes this adapter opened, oldest first. */
  private readonly teammates: string[] = [];

  constructor(private readonly options: WeztermAdapterOptions = {}) {
    this.env = options.env ?? process.env;
    this.runner = new CliRunner("wezterm", options.bin ?? "wezterm", options.exec ?? defaultExec, this.env);
    this.runDir = new RunDir(options.runDir);
  }

  /** The exact `wezterm` arguments that split `target` and run `spec`, its pid written to `pidFile`. */
  static splitArgs(spec: SpawnSpec, pidFile: string, target: string, placement: string[]): string[] {
    return [
      "cli",
      "split-pane",
      `--pane-id=${target}`,
      ...placement,
      `--cwd=${spec.cwd}`,
      "--",
      ...launcherArgv({ argv: spec.argv, env: spec.env, pidFile, title: cleanTitle(spec.title) }),
    ];
  }

  /** The lead's pane id; throws if neither the option nor $WEZTERM_PANE gives one. */
  leadPane(): string {
    const lead = this.options.leadPane ?? this.env.WEZTERM_PANE;
    if (!lead || !/^\d+$/.test(lead)) {
      throw new TerminalError(
        "TERMINAL_NOT_DETECTED",
        "wezterm adapter: WEZTERM_PANE is not set, so the lead's pane is unknown; run the lead inside WezTerm or pass leadPane",
      );
    }
    return lead;
  }

  /** Open a pane for `spec`: right of the lead first, then below the tallest teammate. */
  async spawn(spec: SpawnSpec): Promise<PaneRef> {
    validateSpec(spec);
    return this.serial.run(async () => {
      const lead = this.leadPane();
      const target = await this.splitTarget(lead);
      const placement = target === lead ? ["--right", `--percent=${this.options.teammatePercent ?? 45}`] : ["--bottom"];
      const pidFile = this.runDir.file("pid");
      const stdout = await this.runner.run(
        WeztermAdapter.splitArgs(spec, pidFile, target, placement),
        "is the lead running inside WezTerm (WEZTERM_PANE set)?",
      );
      const paneId = stdout.trim();
      if (!/^\d+$/.test(paneId)) {
        throw new TerminalError("TERMINAL_COMMAND_FAILED", `wezterm cli split-pane did not print a pane id (got ${JSON.stringify(stdout)})`);
      }
      const pid = await readPidFile(pidFile, this.options.pidTimeoutMs);
      this.teammates.push(paneId);
      return { kind: this.kind, paneId, pid, title: cleanTitle(spec.title) };
    });
  }

  /** The pane to split: the tallest teammate still open in the lead's tab, else the lead. */
  private async splitTarget(lead: string): Promise<string> {
    if (this.teammates.length === 0) return lead;
    const panes = await this.list();
    if (!panes) return this.teammates.at(-1)!;
    const leadTab = panes.find((p) => String(p.pane_id) === lead)?.tab_id;
    const open = panes.filter((p) => this.teammates.includes(String(p.pane_id)) && p.tab_id === leadTab);
    if (open.length === 0) return lead;
    open.sort((a, b) => (b.size?.rows ?? 0) - (a.size?.rows ?? 0));
    return String(open[0]!.pane_id);
  }

  /** `wezterm cli list --format json`, or undefined if WezTerm cannot be asked. */
  private async list(): Promise<ListedPane[] | undefined> {
    try {
      const result = await this.runner.try(["cli", "list", "--format", "json"]);
      return result.exitCode === 0 ? (JSON.parse(result.stdout) as ListedPane[]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** By pid when known, otherwise by whether WezTerm still lists the pane. */
  async isAlive(pane: PaneRef): Promise<boolean> {
    if (pane.pid !== undefined) return isPidAlive(pane.pid);
    const panes = await this.list();
    return panes ? panes.some((p) => String(p.pane_id) === pane.paneId) : true;
  }

  /** SIGTERM then SIGKILL the pane's process group, then close the pane if WezTerm kept it open. */
  async kill(pane: PaneRef): Promise<void> {
    if (!/^\d+$/.test(pane.paneId)) throw new TerminalError("INVALID_PANE", `not a WezTerm pane id: ${JSON.stringify(pane.paneId)}`);
    const closePane = async () => {
      await this.runner.try(["cli", "kill-pane", `--pane-id=${pane.paneId}`]).catch(() => undefined);
    };
    if (pane.pid !== undefined) await terminate(pane.pid, { graceMs: this.options.graceMs, beforeKill: closePane });
    if (pane.pid === undefined || (await this.list())?.some((p) => String(p.pane_id) === pane.paneId)) await closePane();
  }

  /** Teammates are already on screen, next to the lead. */
  attachHint(pane?: PaneRef): string {
    return `teammates are in WezTerm panes to the right of the lead${pane ? ` (this one: pane ${pane.paneId})` : ""}`;
  }
}
