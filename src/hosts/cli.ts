/** The clanker-teams command line: parses argv, opens the store, runs one command (hosts/cli/commands/). */
import { makeCtx, type Ctx } from "../context.js";
import { isTeamsError } from "../errors.js";
import { runCompletionHook } from "../agents/hooks.js";
import { visible, visibleBlock } from "../text/safe.js";
import { didYouMean, packageVersion, parse } from "./cli/args.js";
import type { Command, Parsed } from "./cli/command.js";
import { commands } from "./cli/commands/index.js";

export { didYouMean, packageVersion } from "./cli/args.js";
export { formatEvent, openBlockers, statusData, table, MAX } from "./cli/render.js";

const byName: ReadonlyMap<string, Command> = new Map(commands.map((c) => [c.name, c]));

function mainHelp(): string {
  return `clanker-teams — agent teams for pi, clanker and any MCP agent

Usage:
${commands.map((c) => `  clanker-teams ${c.synopsis}`).join("\n")}
  clanker-teams --version                              print the version

Each command takes --help (or: clanker-teams help <command>). Unknown options are refused.
Data lives in $CLANKER_TEAMS_DIR (default ~/.clanker), or in the PostgreSQL
database named by --db or $CLANKER_TEAMS_DB (postgres://…).
Your identity: --as NAME, else $CLANKER_AGENT_NAME, else team-lead.
Text written by agents is shown with control characters escaped (\\x1b, \\n, \\u202e).`;
}

const fail = (msg: string) => { process.stderr.write(`clanker-teams: ${visibleBlock(msg)}\n`); return 1; };

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try { p = parse(argv, byName); } catch (e) { return fail((e as Error).message); }
  if (p.flags.version) { process.stdout.write(packageVersion() + "\n"); return 0; }
  let [name, ...rest] = p.args;
  if (name === "help" && rest.length) { p.flags.help = true; [name, ...rest] = rest; }
  const names = commands.map((c) => c.name);
  if (name !== undefined && name !== "help" && !byName.has(name)) return fail(`unknown command "${visible(name)}"${didYouMean(name, names) || `; commands: ${names.join(", ")}`} (clanker-teams --help)`);
  if (!name || name === "help") { process.stdout.write(mainHelp() + "\n"); return name || p.flags.help ? 0 : 1; }
  const cmd = byName.get(name)!;
  if (p.flags.help) { process.stdout.write(cmd.help + "\n"); return 0; }
  if (rest.length > cmd.maxArgs) return fail(`${name} takes ${cmd.argsHint}; got ${rest.length}: ${rest.map((a) => JSON.stringify(visible(a))).join(" ")} (clanker-teams ${name} --help)`);
  let made: Ctx | undefined;
  const ctx = () => (made ??= makeCtx({ actor: typeof p.flags.as === "string" ? p.flags.as : undefined, db: typeof p.flags.db === "string" ? p.flags.db : undefined, runHook: runCompletionHook }));
  try {
    return await cmd.run({ args: rest, flags: p.flags }, ctx);
  } catch (e) {
    const code = fail(isTeamsError(e) ? `${e.message}` : (e as Error).message);
    if (!isTeamsError(e) && process.env.CLANKER_TEAMS_DEBUG) process.stderr.write(visibleBlock(String((e as Error).stack)) + "\n");
    return code;
  } finally {
    // Connections and timers must not keep a finished command alive; the documented files are brought current.
    if (made) await made.store.close().catch(() => undefined);
  }
}
