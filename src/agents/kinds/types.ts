/** What every agent CLI builder gets and gives: argv and env for a teammate pane, and the MCP registration for a person. */
import type { ThinkingLevel } from "../../schemas.js";

/** The agents spawn_teammate can start. `pi` means the pi family (clanker when installed). */
export const AGENT_KINDS = ["pi", "claude", "codex", "gemini", "opencode"] as const;
export type AgentKindName = (typeof AGENT_KINDS)[number];
export type McpHostKind = Exclude<AgentKindName, "pi">;

/** How to start our MCP server: argv and the environment it needs (identity, store). */
export interface McpLaunch { command: string; args: string[]; env: Record<string, string> }

/** Everything a builder needs to start one teammate. */
export interface KindInput {
  team: string;
  name: string;
  /** The whole first message. */
  prompt: string;
  cwd: string;
  model?: string;
  thinking?: ThinkingLevel;
  /** Our MCP server for this teammate. */
  mcp: McpLaunch;
  /** argv of `clanker-teams hook <host> <event>` for this teammate. */
  hook(event: "stop" | "prompt"): string[];
  /** A private directory (0700) for this teammate's config files. */
  dir: string;
  /** The CLI's command (argv prefix), found on PATH or overridden. */
  cmd: string[];
  /** The user's home (read only: some CLIs' private config starts from the user's own). */
  userHome: string;
}

export interface KindLaunch { argv: string[]; env: Record<string, string> }

/** One agent CLI. */
export interface AgentKind {
  name: McpHostKind;
  /** Its executable name on PATH. */
  bin: string;
  /** The npm package that installs it. */
  pkg: string;
  /** The teammate's argv and extra env (config files go into input.dir). */
  launch(input: KindInput): KindLaunch;
  /** The one-line registration a person runs, and the project file `init --write` merges it into. */
  registration(mcp: McpLaunch): { line: string; file: string; merge(existing: string | undefined): string };
}

/** The name of our server in every host's config. */
export const SERVER = "clanker-teams";
/** Hosts' tool-call timeout we set: above wait_for_mail's longest wait (600 s). */
export const TOOL_TIMEOUT_S = 660;
