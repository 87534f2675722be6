/** The basic commands: call a tool, list the tools, status, watch the event log, the demo. */
import { isTeamsError } from "../../../errors.js";
import { readEvents } from "../../../domain/events.js";
import { listTeams, readTeam } from "../../../domain/teams.js";
import { callTool, getTool, tools } from "../../../tools/table.js";
import { jsonSchema } from "../../../tools/define.js";
import { jsonForTerminal, visible, visibleBlock } from "../../../text/safe.js";
import { readStdin } from "../args.js";
import type { Command } from "../command.js";
import { c, formatEvent, renderStatus, statusData } from "../render.js";
import { personalStatus } from "./coord.js";

export const call: Command = {
  name: "call",
  synopsis: "call <tool> '<json>' [--as NAME]     run one tool, print its JSON result",
  help: `Usage: clanker-teams call <tool> '<json>' [--as NAME]

Runs one tool with JSON arguments and prints {"ok":true,"text":...,"details":...}.
Bad input prints a message on stderr and exits 1. Arguments may also come on stdin ('-').
Example: clanker-teams call task_list '{"team_name":"demo"}'`,
  maxArgs: 2, argsHint: "a tool name and its JSON arguments",
  async run({ args: [name, json] }, ctx) {
    if (!name) throw new Error("call needs a tool name; `clanker-teams tools` lists them");
    getTool(name);
    let raw: unknown = {};
    const text = json === "-" ? await readStdin() : json;
    if (text !== undefined && text.trim()) {
      try { raw = JSON.parse(text); } catch (e) { throw new Error(`arguments are not valid JSON (${(e as Error).message}); quote them, e.g. '{"team_name":"demo"}'`); }
    }
    const r = await callTool(ctx(), name, raw);
    process.stdout.write(jsonForTerminal({ ok: true, text: r.text, details: r.details }, 2) + "\n");
    return 0;
  },
};

export const toolsCmd: Command = {
  name: "tools",
  synopsis: "tools [--json]                         list the tools and their parameters",
  help: `Usage: clanker-teams tools [--json]

Lists every tool with its description and parameters; --json prints the JSON schemas.`,
  bools: ["json"], maxArgs: 0, argsHint: "no arguments",
  async run({ flags }) {
    if (flags.json) process.stdout.write(jsonForTerminal(tools.map((t) => ({ name: t.name, description: t.description, roles: t.roles, parameters: jsonSchema(t) })), 2) + "\n");
    else for (const t of tools) {
      const s = jsonSchema(t) as { properties?: Record<string, unknown>; required?: string[] };
      const params = Object.keys(s.properties ?? {}).map((k) => visible(s.required?.includes(k) ? k : `${k}?`)).join(", ");
      process.stdout.write(`${c.bold(visible(t.name))}(${params})\n  ${visibleBlock(t.description).replace(/\n/g, "\n  ")}\n`);
    }
    return 0;
  },
};

export const status: Command = {
  name: "status",
  synopsis: "status [team] [--as NAME] [--json]     members, tasks by status, unread counts, reservations",
  help: `Usage: clanker-teams status [team] [--json]
       clanker-teams status [team] --as NAME [--json]

Shows each team's members (state from their heartbeats, host when they run on
several, a failing model's error), tasks by status (with their unfinished
blockers), unread counts and file reservations. Long text is cut with "…";
--json prints everything whole. With --as NAME: what team_status tells NAME
(its tasks, tasks ready to claim, unread mail, reservations, open votes,
milestones), for the team given or the only one NAME is in.`,
  bools: ["json"], maxArgs: 1, argsHint: "at most one team name",
  async run({ args, flags }, ctx) {
    if (typeof flags.as === "string") return personalStatus(args[0], flags, ctx);
    const x = ctx();
    const teams = args[0] ? [args[0]] : await listTeams(x);
    const data = [];
    for (const t of teams) data.push(await statusData(x, t));
    if (flags.json) process.stdout.write(jsonForTerminal(args[0] ? data[0] : data, 2) + "\n");
    else process.stdout.write((data.length ? data.map(renderStatus).join("\n\n") : `No teams in ${visible(x.store.location)}. Create one with: clanker-teams call team_create '{"team_name":"my-team"}'`) + "\n");
    return 0;
  },
};

export const watch: Command = {
  name: "watch",
  synopsis: "watch <team> [--from SEQ] [--json]     follow the team's event log live",
  help: `Usage: clanker-teams watch <team> [--from SEQ] [--json]

Prints the team's events as they happen (Ctrl-C to stop), starting with the
last 10. --from SEQ starts after event SEQ; --from 0 replays the whole log.
--json prints each event as one JSON line.`,
  values: ["from"], bools: ["json"], maxArgs: 1, argsHint: "one team name",
  async run({ args: [team], flags }, ctx) {
    if (!team) throw new Error("watch needs a team name; `clanker-teams status` lists the teams");
    const from = flags.from;
    if (typeof from === "string" && !/^\d+$/.test(from)) throw new Error(`--from: must be an event number (0 or more), got ${JSON.stringify(visible(from))}; --from 0 replays the whole log`);
    const x = ctx();
    await readTeam(x, team);
    let last = typeof from === "string" ? Number(from) : Math.max(0, ((await readEvents(x, team)).at(-1)?.seq ?? 0) - 10);
    if (!flags.json) process.stderr.write(c.dim(`Following the events of team ${visible(team)} in ${visible(x.store.location)} (Ctrl-C to stop)`) + "\n");
    let running = false;
    let again = false;
    let stop!: () => void;
    const done = new Promise<void>((r) => (stop = r));
    const tick = async () => {
      if (running) { again = true; return; }
      running = true;
      try {
        do {
          again = false;
          for (const e of await readEvents(x, team, last)) {
            last = e.seq;
            process.stdout.write((flags.json ? jsonForTerminal(e) : formatEvent(e)) + "\n");
          }
        } while (again);
      } catch (e) {
        if (isTeamsError(e) && e.code === "NOT_FOUND") { process.stderr.write(`team ${visible(team)} was deleted\n`); stop(); }
      } finally {
        running = false;
      }
    };
    await tick();
    const unwatch = x.store.watch(team, "events", () => void tick());
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    await done;
    unwatch();
    return 0;
  },
};

export const demo: Command = {
  name: "demo",
  synopsis: "demo [--keep] [--pi 0.73|0.55]         run a scripted demo team in tmux (no API key)",
  help: `Usage: clanker-teams demo [--keep] [--pi 0.73|0.55]

Runs a real lead and two teammates (pi with a scripted model, no key or network)
in a private tmux server on a throwaway repo and data dir, shows a live board,
and exits non-zero if any step did not happen. At the end (and on Ctrl-C or
SIGTERM at any time) it stops every agent and the tmux server and removes its
temp dir; a failed run keeps the temp dir for inspection. --keep leaves the tmux
server and temp dir at the end and says which panes still run; --pi 0.55 uses
the older bundled pi (clanker's base).`,
  values: ["pi"], bools: ["keep"], maxArgs: 0, argsHint: "no arguments",
  async run({ flags }) {
    const pi = flags.pi;
    if (typeof pi === "string" && pi !== "0.73" && pi !== "0.55") throw new Error(`--pi: must be 0.73 or 0.55 (the bundled pi versions), got ${JSON.stringify(visible(pi))}`);
    const { runDemo } = await import("../../../demo/run.js");
    return await runDemo({ keep: !!flags.keep, pi: typeof pi === "string" ? pi : undefined });
  },
};
