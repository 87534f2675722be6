/**
 * tmux adapter: the lead's pane stays large on the left, teammates stack in a
 * column on the right. Every command targets the lead's own pane ($TMUX_PANE)
 * or a teammate pane by id, never whichever pane has focus.
 */

import { TerminalError } from "./errors.js";
import { tmuxLiteral } from "./quote.js";
import { Serial } from "./serial.js";
import { cleanTitle, validateSpec } from "./spec.js";
import { checkPaneId, PANE_FORMAT, parseNewPane, TmuxClient, type TmuxServerOptions } from "./tmux-client.js";
import type { PaneRef, SpawnSpec, TerminalAdapter } from "./types.js";

export interface TmuxAdapterOptions extends TmuxServerOptions {
  /** The lead's pane id (default $TMUX_PANE). */
  leadPane?: string;
  /** Width of the teammate column, as tmux `-l` takes it (default "45%", so the lead stays widest). */
  teammateWidth?: string;
  /** Show pane titles in the pane borders of the lead's window (default true). */
  showTitles?: boolean;
}

/** User option that tags a teammate pane with its lead's pane id, so layout survives a lead restart. */
export const LEAD_TAG = "@clanker_lead";

/** Panes in a tmux window: the lead on the left, teammates stacked on the right. */
export class TmuxAdapter implements TerminalAdapter {
  readonly kind = "tmux" as const;
  readonly client: TmuxClient;
  private readonly serial = new Serial();

  constructor(private readonly options: TmuxAdapterOptions = {}) {
    this.client = new TmuxClient(options);
  }

  /** The lead's pane id; throws if neither the option nor $TMUX_PANE gives one. */
  leadPane(): string {
    const lead = this.options.leadPane ?? (this.options.env ?? process.env).TMUX_PANE;
    if (!lead) {
      throw new TerminalError(
        "TERMINAL_NOT_DETECTED",
        "tmux adapter: TMUX_PANE is not set, so the lead's pane is unknown; run the lead inside tmux or pass leadPane",
      );
    }
    checkPaneId(lead);
    return lead;
  }

  /** Open a pane for `spec`: first teammate to the right of the lead, later ones below the last teammate. */
  async spawn(spec: SpawnSpec): Promise<PaneRef> {
    validateSpec(spec);
    return this.serial.run(async () => {
      const lead = this.leadPane();
      const teammates = await this.teammatePanes(lead);
      const last = teammates.at(-1);
      const split = last
        ? ["split-window", "-v", "-d", "-t", last]
        : ["split-window", "-h", "-d", "-t", lead, "-l", this.options.teammateWidth ?? "45%"];
      let created = await this.client.try([...split, "-P", "-F", PANE_FORMAT, ...TmuxClient.spawnArgs(spec)]);
      if (created.exitCode !== 0 && /no space|too small/i.test(created.stderr)) {
        // The lead's window is full: give the teammate its own window right after the lead's.
        const window = (await this.client.run(["display-message", "-p", "-t", lead, "#{window_id}"])).trim();
        const name = tmuxLiteral(cleanTitle(spec.title));
        created = await this.client.try(["new-window", "-a", "-d", "-t", window, "-n", name, "-P", "-F", PANE_FORMAT, ...TmuxClient.spawnArgs(spec)]);
      }
      if (created.exitCode !== 0) {
        throw new TerminalError(
          "TERMINAL_COMMAND_FAILED",
          `tmux could not open a pane for ${JSON.stringify(spec.title)}: ${created.stderr.trim() || `exit ${created.exitCode}`}`,
        );
      }
      const pane = parseNewPane(created.stdout);
      const title = cleanTitle(spec.title);
      await this.client.label(pane.paneId, title, { [LEAD_TAG]: lead });
      await this.tidy(lead, last === undefined);
      return { kind: this.kind, paneId: pane.paneId, pid: pane.pid, socket: pane.socket, title };
    });
  }

  /** Teammate panes of `lead` in its window, top to bottom, with their heights. */
  async teammates(lead: string): Promise<Array<{ id: string; height: number }>> {
    const out = await this.client.run(["list-panes", "-t", lead, "-F", `#{pane_id} #{pane_top} #{pane_height} #{${LEAD_TAG}}`]);
    return out
      .split("\n")
      .map((line) => line.split(" "))
      .filter(([id, , , tag]) => tag === lead && id !== lead)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map(([id, , height]) => ({ id: id!, height: Number(height) }));
  }

  /** Teammate pane ids of `lead`, top to bottom. */
  async teammatePanes(lead: string): Promise<string[]> {
    return (await this.teammates(lead)).map((t) => t.id);
  }

  /**
   * Give the teammate column equal heights and show titles. Cosmetic, so failures are ignored.
   * (Not `select-layout -E`: when the column is already even it evens the parent cell instead,
   * squeezing the lead to half the window.)
   */
  private async tidy(lead: string, first: boolean): Promise<void> {
    if (first) {
      if (this.options.showTitles !== false) await this.client.try(["set-option", "-w", "-t", lead, "pane-border-status", "top"]);
      return;
    }
    const column = await this.teammates(lead);
    const usable = column.reduce((sum, t) => sum + t.height, 0);
    const each = Math.floor(usable / column.length);
    const extra = usable % column.length; // the first few panes get one more row
    const args = column
      .slice(0, -1)
      .flatMap((t, i) => [...(i ? [";"] : []), "resize-pane", "-t", t.id, "-y", String(each + (i < extra ? 1 : 0))]);
    if (args.length) await this.client.try(args);
  }

  /** True while the pane exists and runs the program it was started with. */
  async isAlive(pane: PaneRef): Promise<boolean> {
    return (await this.client.forPane(pane).paneState(pane)).state === "running";
  }

  /** Stop the pane's program (its whole process group) and close the pane. */
  kill(pane: PaneRef): Promise<void> {
    return this.client.forPane(pane).killPane(pane);
  }

  /** Make the pane's tmux server reap exited pane processes now. */
  reap(pane: PaneRef): Promise<void> {
    return this.client.forPane(pane).reap();
  }

  /** Teammates are already on screen, next to the lead. */
  attachHint(pane?: PaneRef): string {
    return `teammates are in tmux panes to the right of the lead${pane ? ` (this one: ${pane.paneId})` : ""}`;
  }
}
