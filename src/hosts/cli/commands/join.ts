/**
 * `clanker-teams join <team> --as NAME`: a teammate on this host (for a team
 * whose store other hosts reach too: PostgreSQL). Adds the member if it is
 * new, then prints the exact command that starts its agent here with the
 * extension and the same store, or runs it (--launch).
 */
import { spawn } from "node:child_process";
import { addMember, findMember, readTeam } from "../../../domain/teams.js";
import { agentCommand, extensionPath, initialPrompt } from "../../../agents/teammates.js";
import { shJoin, shQuote } from "../../../agents/terminals/quote.js";
import { LEAD_NAME, validateName } from "../../../names.js";
import { visible } from "../../../text/safe.js";
import type { Command } from "../command.js";

const DEFAULT_PROMPT = "Read your inbox, then claim a task with task_claim and work on it; report to team-lead when done.";

export const join: Command = {
  name: "join",
  synopsis: "join <team> --as NAME [--launch]        start a teammate on this host (same store, e.g. PostgreSQL)",
  help: `Usage: clanker-teams join <team> --as NAME [--prompt TEXT] [--launch] [--db URL]

For a teammate on another host than the lead: the team's store must be one every
host reaches (PostgreSQL: --db or $CLANKER_TEAMS_DB). Adds NAME to the team if it
is not a member yet, then prints the command that starts its agent on this host
(pi or clanker with the clanker-teams extension, CLANKER_TEAMS_DB,
CLANKER_TEAM_NAME and CLANKER_AGENT_NAME set). --launch runs it here in the
foreground. The agent's presence records this host; check_teammate shows it.`,
  values: ["prompt"], bools: ["launch"], maxArgs: 1, argsHint: "one team name",
  async run({ args: [team], flags }, ctx) {
    if (!team) throw new Error("join needs a team name; `clanker-teams status` lists the teams");
    if (typeof flags.as !== "string") throw new Error("join needs --as NAME: the teammate's name in the team");
    const name = validateName("--as", flags.as);
    if (name === LEAD_NAME) throw new Error(`--as: "${LEAD_NAME}" is the lead; a lead just starts its agent with the same store`);
    const x = ctx();
    let cfg = await readTeam(x, team);
    if (!findMember(cfg, name)) {
      await addMember({ ...x, actor: LEAD_NAME }, team, { name, role: "teammate", cwd: process.cwd() });
      cfg = await readTeam(x, team);
    }
    const prompt = typeof flags.prompt === "string" && flags.prompt.trim() ? flags.prompt : DEFAULT_PROMPT;
    const argv = [...agentCommand(x, cfg), "-e", extensionPath(), initialPrompt(team, name, prompt)];
    const env = { ...x.store.childEnv(), CLANKER_TEAM_NAME: cfg.name, CLANKER_AGENT_NAME: name };
    if (!flags.launch) {
      const assigns = Object.entries(env).map(([k, v]) => `${k}=${shQuote(v)}`).join(" ");
      process.stdout.write(`${visible(`${assigns} ${shJoin(argv)}`)}\n`);
      return 0;
    }
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", env: { ...process.env, ...env } });
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
    return await new Promise<number>((resolve) => {
      child.on("error", (e) => { process.stderr.write(`clanker-teams: cannot start ${visible(argv[0]!)}: ${visible(e.message)}\n`); resolve(1); });
      child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  },
};
