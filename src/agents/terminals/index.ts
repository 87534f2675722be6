/** Terminal adapters: open a teammate's pane, check it, kill it. */

export type { PaneRef, SpawnSpec, TerminalAdapter, TerminalKind } from "./types.js";
export { TerminalError, type TerminalErrorCode } from "./errors.js";
export { detect, detectKind, createAdapter, adapterFor, TERMINAL_KINDS, TERMINAL_OVERRIDE_ENV } from "./detect.js";
export type { AdapterOptions, DetectOptions } from "./detect.js";
export { TmuxAdapter, LEAD_TAG, type TmuxAdapterOptions } from "./tmux.js";
export { HeadlessAdapter, headlessSessionName, TEAM_TAG, type HeadlessAdapterOptions } from "./headless.js";
export { ZellijAdapter, parseZellijPaneId, type ZellijAdapterOptions } from "./zellij.js";
export { WeztermAdapter, type WeztermAdapterOptions } from "./wezterm.js";
export {
  Iterm2Adapter,
  SPAWN_SCRIPT,
  ALIVE_SCRIPT,
  CLOSE_SCRIPT,
  sessionFromItermEnv,
  typedLine,
  type Iterm2AdapterOptions,
} from "./iterm2.js";
export { TmuxClient, socketFromTmuxEnv, type TmuxServerOptions } from "./tmux-client.js";
export { defaultExec, CliRunner, type Exec, type ExecOptions, type ExecResult, type AdapterBaseOptions } from "./exec.js";
export { LAUNCHER_SCRIPT, launcherArgv, launchScript, readPidFile, RunDir, type LaunchOptions } from "./launcher.js";
export { isPidAlive, terminate, signalGroup, waitForExit } from "./process.js";
export { shQuote, shJoin, appleScriptString, tmuxArg, tmuxLiteral } from "./quote.js";
export { validateSpec, cleanTitle } from "./spec.js";
