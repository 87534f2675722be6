/** Terminal multiplexer adapters: one small interface, one adapter per terminal. */

export type TerminalKind = "tmux" | "zellij" | "iterm2" | "wezterm" | "headless";

/** What to run in a new pane. argv[0] is the program; nothing is interpreted by a shell. */
export interface SpawnSpec {
  argv: string[];
  cwd: string;
  /** Extra environment for the new process (merged over the terminal's own). */
  env: Record<string, string>;
  /** Pane title, e.g. the teammate's name. */
  title: string;
}

/** A handle to a spawned pane, stored in the team config so any process can check or kill it later. */
export interface PaneRef {
  kind: TerminalKind;
  /** The terminal's own pane id (tmux "%12", wezterm "7", zellij "terminal_3", iTerm2 session id). */
  paneId: string;
  /** pid of the process started in the pane, when known. */
  pid?: number;
  /** tmux session name for headless mode; Zellij session name for zellij. */
  session?: string;
  /** tmux server socket path, so a process outside that tmux can still reach the pane. */
  socket?: string;
  /** The title the pane was given (the teammate's name). */
  title?: string;
}

export interface TerminalAdapter {
  readonly kind: TerminalKind;
  spawn(spec: SpawnSpec): Promise<PaneRef>;
  isAlive(pane: PaneRef): Promise<boolean>;
  kill(pane: PaneRef): Promise<void>;
  /** One line telling a person how to see the panes (e.g. "tmux attach -t clanker-myteam"). */
  attachHint(pane?: PaneRef): string;
  /** Tear down what the adapter created for the team (headless: its tmux session). Optional. */
  destroy?(): Promise<void>;
  /** Make the terminal reap its exited pane processes now (tmux can leave one a zombie until its next child exits). Optional. */
  reap?(pane: PaneRef): Promise<void>;
}
