/** `clanker-teams dashboard`: serves the live web dashboard (hosts/dashboard/) until Ctrl-C. */
import { execa } from "execa";
import { readTeam } from "../../../domain/teams.js";
import { visible } from "../../../text/safe.js";
import type { Command } from "../command.js";
import { c } from "../render.js";

/** The program that opens a URL in the person's browser here, as argv (no shell). */
function opener(url: string): string[] | undefined {
  if (process.platform === "darwin") return ["open", url];
  if (process.platform === "win32") return ["explorer.exe", url];
  return ["xdg-open", url];
}

export const dashboard: Command = {
  name: "dashboard",
  synopsis: "dashboard [team] [--port N] [--open] [--host H]  a live web page: board, members, mail, events",
  help: `Usage: clanker-teams dashboard [team] [--port N] [--open] [--host H]

Serves a live web page of your teams: members and their state, the task board
with owners, dependencies and plans, each member's mail, the event log, and
milestones, reservations and votes when there are any. It updates itself
within a second of any change, made by any process, on either store.

From the page you act as team-lead (or --as NAME): send a message, approve or
reject a plan, reassign or release a task, shut down a teammate. Each action
runs the same tool as an agent's call and is logged with you as actor.

It listens on 127.0.0.1 (this machine only) on a free port, and prints an
address with a random access token; the first visit turns it into a cookie.
Requests without it get 401. Ctrl-C stops it.

  --port N   listen on port N (default: a free one)
  --host H   listen on interface H, e.g. 0.0.0.0 for every one: anyone who
             can reach it and has the address can act as you
  --open     open the address in your browser`,
  values: ["port", "host"], bools: ["open"], maxArgs: 1, argsHint: "at most one team name",
  async run({ args: [team], flags }, ctx) {
    const port = flags.port;
    if (port !== undefined && (typeof port !== "string" || !/^\d+$/.test(port) || Number(port) > 65535)) {
      throw new Error(`--port: must be a port number 1-65535, got ${JSON.stringify(visible(String(port)))}; leave it out for a free port`);
    }
    const host = flags.host;
    if (host !== undefined && (typeof host !== "string" || !host.trim() || /[\s/]/.test(host))) {
      throw new Error(`--host: must be an interface address such as 127.0.0.1 or 0.0.0.0, got ${JSON.stringify(visible(String(host)))}`);
    }
    const x = ctx();
    if (team !== undefined) await readTeam(x, team);
    // Listening for Ctrl-C before the address is out: whoever reads it may stop us at once.
    const stopped = new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    const { startDashboard, isLoopback } = await import("../../dashboard/server.js");
    let d;
    try {
      d = await startDashboard({ ctx: x, team, host: host as string | undefined, port: port === undefined ? 0 : Number(port) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") throw new Error(`--port ${port}: the port is in use; choose another, or leave --port out for a free one`);
      if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") throw new Error(`--host ${visible(String(host))}: no such interface on this machine (${code})`);
      throw e;
    }
    process.stdout.write(`${d.url}\n`);
    process.stderr.write(c.dim(`Dashboard of ${team ? `team ${visible(team)}` : "all teams"} in ${visible(x.store.location)}, acting as ${visible(x.actor)}. Ctrl-C to stop.`) + "\n");
    if (!isLoopback(d.host)) process.stderr.write(c.yellow(`Listening on ${visible(d.host)}: anyone who can reach this port and has the address can act as ${visible(x.actor)}.`) + "\n");
    if (flags.open) {
      const argv = opener(d.url)!;
      execa(argv[0]!, argv.slice(1), { detached: true, stdio: "ignore", reject: false }).then((r) => {
        if (r.failed) process.stderr.write(`could not open a browser (${visible(argv[0])}: ${visible(r.shortMessage ?? "failed")}); open the address above yourself\n`);
      }, () => undefined);
    }
    await stopped;
    await d.close();
    return 0;
  },
};
