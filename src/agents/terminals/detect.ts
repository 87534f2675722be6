/** Choosing the terminal adapter from the lead's environment. */

import type { AdapterBaseOptions } from "./exec.js";
import { TerminalError } from "./errors.js";
import { HeadlessAdapter } from "./headless.js";
import { Iterm2Adapter } from "./iterm2.js";
import type { TmuxServerOptions } from "./tmux-client.js";
import { TmuxAdapter } from "./tmux.js";
import type { PaneRef, TerminalAdapter, TerminalKind } from "./types.js";
import { WeztermAdapter } from "./wezterm.js";
import { ZellijAdapter } from "./zellij.js";

export const TERMINAL_KINDS: readonly TerminalKind[] = ["tmux", "zellij", "iterm2", "wezterm", "headless"];

/** Environment variable that overrides detection (one of {@link TERMINAL_KINDS}). */
export const TERMINAL_OVERRIDE_ENV = "CLANKER_TEAMS_TERMINAL";

/**
 * Which terminal the lead runs in, from its environment alone (pure):
 * $CLANKER_TEAMS_TERMINAL if set, else TMUX → tmux, ZELLIJ → zellij,
 * TERM_PROGRAM=iTerm.app on macOS → iterm2, WEZTERM_PANE → wezterm, else headless.
 */
export function detectKind(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): TerminalKind {
  const forced = env[TERMINAL_OVERRIDE_ENV];
  if (forced) {
    if ((TERMINAL_KINDS as readonly string[]).includes(forced)) return forced as TerminalKind;
    throw new TerminalError(
      "TERMINAL_NOT_DETECTED",
      `${TERMINAL_OVERRIDE_ENV}=${JSON.stringify(forced)} is not a terminal: use one of ${TERMINAL_KINDS.join(", ")}`,
    );
  }
  if (env.TMUX) return "tmux";
  if (env.ZELLIJ !== undefined && env.ZELLIJ !== "") return "zellij";
  if (env.TERM_PROGRAM === "iTerm.app" && platform === "darwin") return "iterm2";
  if (env.WEZTERM_PANE) return "wezterm";
  return "headless";
}

/** Options for {@link createAdapter} and {@link detect}: the union of every adapter's options. */
export interface AdapterOptions extends AdapterBaseOptions, Omit<TmuxServerOptions, "bin" | "exec" | "env" | "graceMs"> {
  /** Team name: names the headless tmux session. Required for headless. */
  team?: string;
  /** Headless session name (default clanker-<team>); taken from PaneRef.session by {@link adapterFor}. */
  sessionName?: string;
}

/** Build the adapter for `kind`. */
export function createAdapter(kind: TerminalKind, options: AdapterOptions = {}): TerminalAdapter {
  switch (kind) {
    case "tmux":
      return new TmuxAdapter(options);
    case "headless":
      return new HeadlessAdapter({ ...options, team: options.team ?? "" });
    case "zellij":
      return new ZellijAdapter(options);
    case "iterm2":
      return new Iterm2Adapter(options);
    case "wezterm":
      return new WeztermAdapter(options);
    default:
      throw new TerminalError("TERMINAL_NOT_DETECTED", `unknown terminal kind ${JSON.stringify(kind)}`);
  }
}

export interface DetectOptions extends AdapterOptions {
  /** Defaults to process.platform. */
  platform?: NodeJS.Platform;
}

/** The adapter for the terminal the lead runs in ({@link detectKind} on options.env, default process.env). */
export function detect(options: DetectOptions = {}): TerminalAdapter {
  const env = options.env ?? process.env;
  return createAdapter(detectKind(env, options.platform ?? process.platform), options);
}

/** An adapter able to check or kill a stored pane, from any process (e.g. the CLI outside tmux). */
export function adapterFor(pane: PaneRef, options: AdapterOptions = {}): TerminalAdapter {
  return createAdapter(pane.kind, {
    ...options,
    sessionName: options.sessionName ?? pane.session,
    socketPath: options.socketPath ?? pane.socket,
  });
}
