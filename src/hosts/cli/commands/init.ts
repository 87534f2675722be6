/**
 * `clanker-teams init`: a short, idempotent section in the repo's AGENTS.md
 * (and CLAUDE.md when there is one) telling any agent how to join the team
 * and get its context; `--remove` takes it out. `--agent KIND` prints (or,
 * with --write, merges into the project's config file) the one-line MCP
 * registration for a person who starts that agent by hand.
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { validateName } from "../../../names.js";
import type { Command } from "../command.js";

const BEGIN = "<!-- clanker-teams:begin (written by `clanker-teams init`; `clanker-teams init --remove` takes it out) -->";
const END = "<!-- clanker-teams:end -->";

/** The section init writes. */
export function section(): string {
  return `${BEGIN}
## Agent team (clanker-teams)

Several coding agents may work in this repo as one team (tasks, mail, claims).
- Join: pi/clanker load the clanker-teams extension; any MCP agent (Claude Code,
  Codex, Gemini CLI, opencode) registers the server once: \`clanker-teams init
  --agent claude\` (or codex, gemini, opencode) prints the line.
- Identity: CLANKER_TEAM_NAME and CLANKER_AGENT_NAME make you that teammate;
  without them you are the lead (team-lead).
- Your context in one call: \`clanker-teams status --as NAME\` (team, members,
  your tasks, tasks ready to claim, unread mail).
- Claim before you work (task_claim), report to team-lead (send_message), and
  when idle call wait_for_mail instead of stopping.
${END}
`;
}

/** The text with our section put in (replacing an old one) or, with remove, taken out. */
export function withSection(text: string, remove: boolean): string {
  const start = text.indexOf("<!-- clanker-teams:begin");
  const end = text.indexOf(END);
  let rest = text;
  let at = -1;
  if (start >= 0 && end > start) {
    at = start;
    let after = end + END.length;
    if (text[after] === "\n") after++;
    // Removing also takes the blank line init put before the section.
    const before = remove && text.slice(0, start).endsWith("\n\n") ? text.slice(0, start - 1) : text.slice(0, start);
    rest = before + text.slice(after);
  }
  if (remove) return rest;
  if (at < 0) return rest ? `${rest}${rest.endsWith("\n") ? "" : "\n"}\n${section()}` : section();
  return rest.slice(0, at) + section() + rest.slice(at);
}

async function repoRoot(cwd: string): Promise<string> {
  const r = await execa("git", ["rev-parse", "--show-toplevel"], { cwd, reject: false });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : cwd;
}

export const init: Command = {
  name: "init",
  synopsis: "init [--remove] [--agent KIND [--write]]  onboard agents: AGENTS.md section, MCP line",
  help: `Usage: clanker-teams init [--remove]
       clanker-teams init --agent claude|codex|gemini|opencode [--write] [--team T] [--as NAME]

Writes a short section into the repo's AGENTS.md (created if missing) and
CLAUDE.md (only if it exists) telling any agent how to join the team and which
command gives it its context. Running it again changes nothing; --remove takes
the section out (an AGENTS.md left empty is deleted).

--agent prints the one-line MCP registration for that agent (to run by hand);
with --write it is merged into the repo's own config file for that agent
(.mcp.json, .codex/config.toml, .gemini/settings.json, opencode.json) instead.
--team/--as put an identity into the registration (default: the lead).`,
  values: ["agent", "team"], bools: ["remove", "write"], maxArgs: 0, argsHint: "no arguments",
  async run({ flags }) {
    const root = await repoRoot(process.cwd());
    if (typeof flags.agent === "string") return register(root, flags);
    if (flags.write) throw new Error("--write goes with --agent KIND (it writes that agent's MCP registration)");
    const remove = flags.remove === true;
    const done: string[] = [];
    for (const name of ["AGENTS.md", "CLAUDE.md"]) {
      const file = path.join(root, name);
      const exists = fs.existsSync(file);
      if (!exists && (name === "CLAUDE.md" || remove)) continue;
      const before = exists ? fs.readFileSync(file, "utf8") : "";
      const after = withSection(before, remove);
      if (after === before) { done.push(`${name}: already ${remove ? "without" : "has"} the section`); continue; }
      if (remove && name === "AGENTS.md" && !after.trim()) { fs.rmSync(file); done.push(`${name}: removed (it held only the section)`); continue; }
      fs.writeFileSync(file, after);
      done.push(`${name}: section ${remove ? "removed" : exists && before.includes("<!-- clanker-teams:begin") ? "updated" : "added"}`);
    }
    process.stdout.write(`${done.length ? done.join("\n") : "nothing to do: no AGENTS.md or CLAUDE.md"}\n`);
    return 0;
  },
};

async function register(root: string, flags: Record<string, string | boolean>): Promise<number> {
  const { kinds, which, cliPath } = await import("../../../agents/kinds/index.js");
  const name = flags.agent as string;
  const kind = kinds[name as keyof typeof kinds];
  if (!kind) throw new Error(`--agent: must be one of ${Object.keys(kinds).join(", ")} (got ${JSON.stringify(name)}); pi and clanker load the extension instead`);
  const env: Record<string, string> = {};
  if (typeof flags.team === "string") env.CLANKER_TEAM_NAME = validateName("--team", flags.team);
  if (typeof flags.as === "string") env.CLANKER_AGENT_NAME = validateName("--as", flags.as);
  // The installed command when it is on PATH, else this node and this package.
  const launch = which("clanker-teams", process.env) ? { command: "clanker-teams", args: ["mcp"], env } : { command: process.execPath, args: [cliPath(), "mcp"], env };
  const reg = kind.registration(launch);
  if (!flags.write) { process.stdout.write(reg.line + "\n"); return 0; }
  const file = path.join(root, reg.file);
  const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, reg.merge(existing));
  process.stdout.write(`${reg.file}: ${existing === undefined ? "created with" : "updated:"} the clanker-teams MCP server\n`);
  return 0;
}
