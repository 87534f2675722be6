/**
 * Zellij adapter: `zellij run` opens the pane (first teammate to the right,
 * later ones below); the pid launcher records the program's pid, so isAlive
 * and kill work by pid without needing pane focus. `--close-on-exit` makes the
 * pane disappear when its program ends.
 */

import { CliRunner, defaultExec, type AdapterBaseOptions } from "./exec.js";
import { TerminalError } from "./errors.js";
import { launcherArgv, readPidFile, RunDir } from "./launcher.js";
import { isPidAlive, terminate } from "./process.js";
import { Serial } from "./serial.js";
import { cleanTitle, validateSpec } from "./spec.js";
import type { PaneRef, SpawnSpec, TerminalAdapter } from "./types.js";

export type ZellijAdapterOptions = AdapterBaseOptions;

/** The pane id in `zellij run` output ("terminal_5" or "5", printed by Zellij 0.44+), if any. */
export function parseZellijPaneId(stdout: string): string | undefined {
  const text = stdout.trim();
  const named = /\b(terminal_\d+)\b/.exec(text);
  if (named) return named[1];
  return /^\d+$/.test(text) ? `terminal_${text}` : undefined;
}

/** Teammate panes in the lead's Zellij tab, tracked by pid. */
export class ZellijAdapter implements TerminalAdapter {
  readonly kind = "zellij" as const;
  private readonly runner: CliRunner;
  private readonly runDir: RunDir;
  private readonly env: NodeJS.ProcessEnv;
  private readonly serial = new Serial();
  private spawned = 0;

  constructor(private readonly options: ZellijAdapterOptions = {}) {
    this.env = options.env ?? process.env;
    this.runner = new CliRunner("zellij", options.bin ?? "zellij", options.exec ?? defaultExec, this.env);
    this.runDir = new RunDir(options.runDir);
  }

  /** The exact `zellij` arguments that open a pane for `spec`, its pid written to `pidFile`. */
  static runArgs(spec: SpawnSpec, pidFile: string, direction: "right" | "down"): string[] {
    // "--opt=value" so a value starting with "-" is never taken for an option.
    return [
      "run",
      `--name=${cleanTitle(spec.title)}`,
      `--cwd=${spec.cwd}`,
      `--direction=${direction}`,
      "--close-on-exit",
      "--",
      ...launcherArgv({ argv: spec.argv, env: spec.env, pidFile }),
    ];
  }

  /** Open a pane for `spec` next to the focused pane (Zellij's CLI cannot target another pane). */
  async spawn(spec: SpawnSpec): Promise<PaneRef> {
    validateSpec(spec);
    return this.serial.run(async () => {
      const pidFile = this.runDir.file("pid");
      const direction = this.spawned === 0 ? "right" : "down";
      const stdout = await this.runner.run(
        ZellijAdapter.runArgs(spec, pidFile, direction),
        "is the lead running inside Zellij (ZELLIJ_SESSION_NAME set)?",
      );
      const pid = await readPidFile(pidFile, this.options.pidTimeoutMs);
      const paneId = parseZellijPaneId(stdout) ?? (pid !== undefined ? `pid:${pid}` : undefined);
      if (paneId === undefined) {
        throw new TerminalError(
          "TERMINAL_COMMAND_FAILED",
          `zellij opened a pane for ${JSON.stringify(spec.title)} but its program never started; look at the new pane for an error`,
        );
      }
      this.spawned += 1;
      return { kind: this.kind, paneId, pid, session: this.env.ZELLIJ_SESSION_NAME, title: cleanTitle(spec.title) };
    });
  }

  /** By pid when known; otherwise by looking the pane up (Zellij 0.44+), else assumed alive. */
  async isAlive(pane: PaneRef): Promise<boolean> {
    if (pane.pid !== undefined) return isPidAlive(pane.pid);
    if (!pane.paneId.startsWith("terminal_")) return true;
    const listed = await this.runner.try([...this.sessionArgs(pane), "action", "list-panes", "--json"]);
    if (listed.exitCode !== 0) return true; // older Zellij: cannot tell
    const id = Number(pane.paneId.slice("terminal_".length));
    try {
      const panes = JSON.parse(listed.stdout) as Array<{ id: number; is_plugin?: boolean; exited?: boolean }>;
      return panes.some((p) => p.id === id && !p.is_plugin && !p.exited);
    } catch {
      return true;
    }
  }

  /** SIGTERM then SIGKILL the pane's process group; the pane closes with it (--close-on-exit). */
  async kill(pane: PaneRef): Promise<void> {
    if (pane.pid !== undefined) {
      await terminate(pane.pid, { graceMs: this.options.graceMs });
      return;
    }
    if (!pane.paneId.startsWith("terminal_")) {
      throw new TerminalError("INVALID_PANE", `zellij pane ${pane.paneId} has no pid and no pane id: close it by hand`);
    }
    await this.runner.run(
      [...this.sessionArgs(pane), "action", "close-pane", "--pane-id", pane.paneId],
      "closing a pane by id needs Zellij 0.44 or later; close it by hand",
    );
  }

  /** Teammates are already on screen, next to the lead. */
  attachHint(pane?: PaneRef): string {
    const session = pane?.session ?? this.env.ZELLIJ_SESSION_NAME;
    return `teammates are in Zellij panes next to the lead${session ? ` (zellij attach ${session})` : ""}`;
  }

  private sessionArgs(pane: PaneRef): string[] {
    return pane.session && pane.session !== this.env.ZELLIJ_SESSION_NAME ? ["--session", pane.session] : [];
  }
}
