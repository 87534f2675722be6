/**
 * Teammates of other kinds: Claude Code, Codex, Gemini CLI, opencode. Each
 * builder turns a spawn into that CLI's argv, with our MCP server configured
 * for the teammate's identity through the CLI's own flag or config file,
 * written into a private temp dir (never the user's global config).
 *
 * Environment: CLANKER_TEAMS_<KIND>_CMD (e.g. CLANKER_TEAMS_CLAUDE_CMD) overrides
 * the CLI's command (a JSON argv array, or words); else its name on PATH.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Ctx } from "../../context.js";
import { TeamsError, invalid } from "../../errors.js";
import type { ThinkingLevel } from "../../schemas.js";
import { claude } from "./claude.js";
import { codex } from "./codex.js";
import { gemini } from "./gemini.js";
import { opencode } from "./opencode.js";
import { AGENT_KINDS, type AgentKind, type AgentKindName, type KindLaunch, type McpHostKind, type McpLaunch } from "./types.js";

export { AGENT_KINDS, type AgentKindName, type McpHostKind } from "./types.js";

export const kinds: Record<McpHostKind, AgentKind> = { claude, codex, gemini, opencode };

/** The kind named by spawn_teammate's `agent`, or an error listing the kinds. */
export function kindOf(name: string): AgentKindName {
  if ((AGENT_KINDS as readonly string[]).includes(name)) return name as AgentKindName;
  throw invalid("agent", `must be one of ${AGENT_KINDS.join(", ")} (got ${JSON.stringify(name)})`);
}

/** This package's CLI entry (bin/clanker-teams.js). */
export function cliPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ["../../../../bin/clanker-teams.js", "../../../bin/clanker-teams.js"]) {
    const p = path.resolve(here, rel);
    if (fs.existsSync(p)) return p;
  }
  return path.resolve(here, "../../../../bin/clanker-teams.js");
}

/** Finds an executable on PATH. */
export function which(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return undefined;
}

/** The CLI's command: CLANKER_TEAMS_<KIND>_CMD, else its name on PATH; a clear error naming the npm package when missing. */
export function kindCommand(kind: AgentKind, env: NodeJS.ProcessEnv): string[] {
  const varName = `CLANKER_TEAMS_${kind.name.toUpperCase()}_CMD`;
  const raw = env[varName]?.trim();
  if (raw) {
    if (raw.startsWith("[")) {
      let a: unknown;
      try { a = JSON.parse(raw); } catch { throw invalid(varName, 'looks like a JSON array but does not parse; use e.g. ["node","/path/cli.js"]'); }
      if (!Array.isArray(a) || !a.length || !a.every((x) => typeof x === "string" && x)) throw invalid(varName, "must be a non-empty JSON array of strings");
      return a as string[];
    }
    return raw.split(/\s+/);
  }
  if (!which(kind.bin, env)) {
    throw new TeamsError("NOT_FOUND", `agent: ${kind.name} needs the "${kind.bin}" command, which is not on PATH; install it with: npm i -g ${kind.pkg} (or set ${varName} to its command)`);
  }
  return [kind.bin];
}

/** How a teammate's host starts our MCP server: this node and this package, its identity and store in env. */
export function mcpLaunchFor(team: string, name: string, env: Record<string, string>): McpLaunch {
  return { command: process.execPath, args: [cliPath(), "mcp", "--team", team, "--as", name, "--stop-host"], env };
}

export interface KindSpawn {
  team: string; name: string; prompt: string; cwd: string; model?: string; thinking?: ThinkingLevel;
  /** The teammate's environment (identity, store, CLANKER_ settings): the MCP server and hooks get it too. */
  env: Record<string, string>;
}

/** argv and env to start a teammate of `kind`; its config files go into a new private temp dir. */
export function launchKind(ctx: Ctx, kindName: McpHostKind, s: KindSpawn): KindLaunch & { dir: string } {
  const kind = kinds[kindName];
  const cmd = kindCommand(kind, ctx.env);
  // Only what our server needs crosses into the host's MCP config (Codex, for one, passes its servers a bare env).
  const serverEnv = Object.fromEntries(Object.entries(s.env).filter(([k]) => /^(CLANKER_|PI_)/.test(k) || k === "PATH" || k === "HOME"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `clanker-teams-${kindName}-`));
  const hook = (event: "stop" | "prompt") => [process.execPath, cliPath(), "hook", kindName === "gemini" ? "gemini" : "claude", event, "--team", s.team, "--as", s.name];
  const l = kind.launch({ ...s, mcp: mcpLaunchFor(s.team, s.name, serverEnv), hook, dir, cmd, userHome: ctx.env.HOME?.trim() || os.homedir() });
  return { ...l, dir };
}
