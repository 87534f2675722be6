/** `budget`: what each member's model calls used against its budget and the team's; people (not agents) raise or set the limits. */
import { setBudget, usageReport, fmtUsage, type UsageRow } from "../../../domain/budgets.js";
import { jsonForTerminal, visible } from "../../../text/safe.js";
import type { Command } from "../command.js";
import { table, c } from "../render.js";

const num = (flag: string, v: string | boolean | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !(n > 0)) throw new Error(`--${flag}: must be a positive number, e.g. --${flag} ${flag === "cost" ? "5" : "2000000"} (got ${JSON.stringify(visible(String(v)))})`);
  return n;
};

function row(r: UsageRow): string[] {
  const flag = r.used.stoppedAt && r.share >= 1 ? c.red(" STOPPED") : r.used.warnedAt && r.share >= 0.8 ? c.yellow(" warned") : "";
  return [visible(r.agent), String(r.used.calls), fmtUsage(r.used, r.limit) + flag];
}

export const budget: Command = {
  name: "budget",
  synopsis: "budget <team> [--agent NAME] [--tokens N] [--cost USD] [--clear] [--json]   usage and budgets",
  help: `Usage: clanker-teams budget <team> [--json]
       clanker-teams budget <team> [--agent NAME] [--tokens N] [--cost USD] [--clear]

Shows what each member's model calls used (tokens and cost, as the agent's
host reports them) against its budget, and the team's against the team
budget (all teammates together; the lead counts only for itself).
With --tokens and/or --cost: sets the team's budget, or NAME's with --agent;
--clear removes it. A raised budget lets the next teammate run (a stopped
teammate stays stopped: spawn it again). Teammates are warned at 80 % and
stopped after the turn that reaches 100 %.`,
  values: ["agent", "tokens", "cost"], bools: ["json", "clear"], maxArgs: 1, argsHint: "one team name",
  async run({ args: [team], flags }, ctx) {
    if (!team) throw new Error("budget needs a team name (clanker-teams budget --help)");
    const x = ctx();
    const agent = typeof flags.agent === "string" ? flags.agent : undefined;
    const tokens = num("tokens", flags.tokens);
    const cost = num("cost", flags.cost);
    if (flags.clear || tokens !== undefined || cost !== undefined) {
      if (flags.clear && (tokens !== undefined || cost !== undefined)) throw new Error("--clear removes the budget; give it without --tokens/--cost");
      await setBudget(x, team, agent, flags.clear ? null : { ...(tokens !== undefined ? { tokens } : {}), ...(cost !== undefined ? { cost_usd: cost } : {}) });
    }
    const r = await usageReport(x, team);
    if (flags.json) process.stdout.write(jsonForTerminal({ ok: true, ...r }, 2) + "\n");
    else process.stdout.write(table([[c.dim("MEMBER"), c.dim("CALLS"), c.dim("USED")], ...r.members.map(row), row(r.team)]) + "\n");
    return 0;
  },
};
