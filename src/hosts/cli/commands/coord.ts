/**
 * Short verbs for people and scripts, mirroring the tools: send, inbox,
 * reserve, release, frontier, vote (and `status --as NAME`). Each takes
 * --json. Exit codes: 0 done, 1 error, 2 refused by another member (a
 * reservation conflict) or not safe (frontier), as in Clockmail's `cm`.
 */
import type { Ctx } from "../../../context.js";
import { isTeamsError } from "../../../errors.js";
import { readInbox, readHistory, sendMessage, unreadPeek } from "../../../domain/messages.js";
import { askFrontier, frontierOf, listMilestones } from "../../../domain/milestones.js";
import { listReservations, releaseFiles, reserveFiles, setAutoReserve } from "../../../domain/reservations.js";
import { teamStatus } from "../../../domain/status.js";
import { listTeams, readTeam, findMember } from "../../../domain/teams.js";
import { castVote, closeVote, getVote, listVotes, proposeVote } from "../../../domain/votes.js";
import { fmtBlocker, fmtFrontier, fmtReservation, fmtTeamStatus, fmtVote } from "../../../tools/coordination-tools.js";
import { fmtMessage } from "../../../tools/core-tools.js";
import { whereOf } from "../../../repo.js";
import { jsonForTerminal, visible, visibleBlock } from "../../../text/safe.js";
import { readStdin } from "../args.js";
import type { Command, Parsed } from "../command.js";

/** A synopsis line: the usage, then what it does, in the main help's column. */
const syn = (usage: string, what: string) => `${usage.padEnd(39)}${what}`;

/** Exit code for "refused by another member" / "not safe". */
export const REFUSED = 2;

const e = (s: unknown) => visible(String(s));
const out = (s: string) => process.stdout.write(s + "\n");
const json = (v: unknown) => out(jsonForTerminal(v, 2));
const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);

function need(value: string | undefined, what: string, cmd: string): string {
  if (!value) throw new Error(`${cmd} needs ${what} (clanker-teams ${cmd} --help)`);
  return value;
}

function seconds(flag: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new Error(`--${flag}: must be a number of seconds, e.g. --${flag} 600 (got ${JSON.stringify(visible(String(v)))})`);
  return n;
}

const list = (v: string | undefined) => (v === undefined ? undefined : v.split(",").map((x) => x.trim()).filter(Boolean));

/** A refusal (CONFLICT: another member holds it) printed, exit 2; other errors go to the caller. */
async function refusable(p: Parsed, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (!isTeamsError(err) || err.code !== "CONFLICT") throw err;
    if (p.flags.json) json({ ok: false, refused: true, error: { code: err.code, message: err.message, details: err.details ?? {} } });
    process.stderr.write(`clanker-teams: refused: ${visibleBlock(err.message)}\n`);
    return REFUSED;
  }
}

export const send: Command = {
  name: "send",
  synopsis: syn("send <team> <to> <message…>", "message a member (from --as NAME)"),
  help: `Usage: clanker-teams send <team> <to> <message…> [--summary S] [--json] [--as NAME]

Sends a message from --as NAME (default team-lead) to member <to>. The words
after <to> are the message ('-' reads it from stdin); --summary is the preview
(default: its first line, cut to 60 characters).`,
  values: ["summary"], bools: ["json"], maxArgs: 1000, argsHint: "a team, a recipient and the message",
  async run({ args: [team, to, ...words], flags }, ctx) {
    need(team, "a team", "send");
    need(to, "a recipient", "send");
    const content = words.length === 1 && words[0] === "-" ? await readStdin() : words.join(" ");
    if (!content.trim()) throw new Error("send needs a message after the recipient (or '-' to read it from stdin)");
    const summary = str(flags.summary) ?? content.trim().split("\n")[0]!.slice(0, 60);
    const m = await sendMessage(ctx(), team!, { recipient: to!, content, summary });
    if (flags.json) json({ ok: true, message: m });
    else out(`Sent to ${e(m.to)}.`);
    return 0;
  },
};

export const inbox: Command = {
  name: "inbox",
  synopsis: syn("inbox <team> [--peek] [--all]", "read your unread messages (--as NAME)"),
  help: `Usage: clanker-teams inbox <team> [--peek] [--all] [--json] [--as NAME]

Prints the unread messages of --as NAME (default team-lead) and marks them
read. --peek leaves them unread; --all prints the whole history (read ones too).`,
  bools: ["json", "peek", "all"], maxArgs: 1, argsHint: "one team name",
  async run({ args: [team], flags }, ctx) {
    need(team, "a team", "inbox");
    const x = ctx();
    let msgs;
    if (flags.all) { await readTeam(x, team!); msgs = (await readHistory(x, team!, x.actor, { limit: 500 })).messages; }
    else if (flags.peek) { await readTeam(x, team!); msgs = await unreadPeek(x, team!, x.actor); }
    else msgs = (await readInbox(x, team!)).messages;
    if (flags.json) json({ ok: true, agent: x.actor, messages: msgs });
    else out(msgs.length ? msgs.map((m) => visibleBlock(fmtMessage(m))).join("\n\n") : `No ${flags.all ? "" : "unread "}messages for ${e(x.actor)}.`);
    return 0;
  },
};

export const reserve: Command = {
  name: "reserve",
  synopsis: syn("reserve <team> [path…] [--shared]", "reserve files (exit 2: another member holds them)"),
  help: `Usage: clanker-teams reserve <team> [path…] [--shared] [--reason R] [--ttl S] [--json] [--as NAME]
       clanker-teams reserve <team> --auto-reserve on|off

Reserves repository paths or globs (*, **, ?; a directory: end it with /) for
--as NAME, exclusively unless --shared, until released, the holder's exit,
or --ttl seconds. Paths are relative to this directory; they are kept
relative to the repository root. Exits 2 when another member holds an
overlapping reservation (it is named). Without paths: lists the reservations.
--auto-reserve on (lead): an agent's first edit or write of a file reserves it.`,
  values: ["reason", "ttl", "auto-reserve"], bools: ["json", "shared"], maxArgs: 101, argsHint: "a team and paths",
  async run(p, ctx) {
    const { args: [team, ...paths], flags } = p;
    need(team, "a team", "reserve");
    const x = ctx();
    const auto = str(flags["auto-reserve"]);
    if (auto !== undefined) {
      if (auto !== "on" && auto !== "off") throw new Error(`--auto-reserve: must be on or off (got ${JSON.stringify(visible(auto))})`);
      await setAutoReserve(x, team!, auto === "on");
      if (flags.json) json({ ok: true, autoReserve: auto === "on" });
      else out(`Auto-reserve is ${auto} for team ${e(team)}.`);
      if (!paths.length) return 0;
    }
    if (!paths.length) {
      const all = await listReservations(x, team!);
      if (flags.json) json({ ok: true, reservations: all });
      else out(all.length ? all.map((r) => fmtReservation(r, e)).join("\n") : "No reservations.");
      return 0;
    }
    return refusable(p, async () => {
      const r = await reserveFiles(x, team!, { paths, exclusive: !flags.shared, reason: str(flags.reason), ttl_s: seconds("ttl", flags.ttl) }, whereOf(x.cwd));
      if (flags.json) json({ ok: true, reserved: r.reserved });
      else out(`Reserved: ${r.reserved.map((v) => fmtReservation(v, e)).join("\n")}`);
      return 0;
    });
  },
};

export const release: Command = {
  name: "release",
  synopsis: syn("release <team> [path…]", "release your reservations (all when none given)"),
  help: `Usage: clanker-teams release <team> [path…] [--json] [--as NAME]

Releases the reservations of --as NAME: the given paths, written as reserved
(relative to this directory), or all of them.`,
  bools: ["json"], maxArgs: 101, argsHint: "a team and paths",
  async run({ args: [team, ...paths], flags }, ctx) {
    need(team, "a team", "release");
    const x = ctx();
    const r = await releaseFiles(x, team!, { paths: paths.length ? paths : undefined }, whereOf(x.cwd));
    if (flags.json) json({ ok: true, ...r });
    else out([r.released.length ? `Released ${r.released.map((v) => e(v.path)).join(", ")}.` : "Nothing to release.", ...(r.notHeld.length ? [`Not yours: ${r.notHeld.map(e).join(", ")}.`] : [])].join(" "));
    return 0;
  },
};

export const frontier: Command = {
  name: "frontier",
  synopsis: syn("frontier <team> [milestone] [n]", "is a checkpoint safe to finalize? (exit 2: not yet)"),
  help: `Usage: clanker-teams frontier <team> [milestone] [checkpoint] [--json] [--as NAME]

Says whether a checkpoint (a name or number) is safe to finalize: its tasks,
and those of the checkpoints it depends on, are completed and nobody holds a
reservation on its work. Prints what blocks it. Without a checkpoint: every
checkpoint of the milestone (of every milestone without one). Exits 0 when
safe (all of them), 2 when not. A member (--as) who asks about a checkpoint
that is not safe gets a message when it becomes safe.`,
  bools: ["json"], maxArgs: 3, argsHint: "a team, a milestone and a checkpoint",
  async run({ args: [team, milestone, checkpoint], flags }, ctx) {
    need(team, "a team", "frontier");
    const x = ctx();
    if (checkpoint !== undefined) {
      const r = await askFrontier(x, team!, milestone, checkpoint);
      const c = r.checkpoint;
      if (flags.json) json({ ok: true, safe: c.safe, checkpoint: c, frontier: r.frontier, watching: r.watching });
      else out(c.safe ? `Checkpoint ${c.n} ${e(c.name)} of ${e(r.frontier.milestone)} is safe to finalize.` : `Checkpoint ${c.n} ${e(c.name)} of ${e(r.frontier.milestone)} is not safe:\n${c.blockers.map((b) => `  ${fmtBlocker(b, e)}`).join("\n")}${r.watching ? `\n${e(x.actor)} will get a message when it is.` : ""}`);
      return c.safe ? 0 : REFUSED;
    }
    const names = milestone !== undefined ? [milestone] : (await listMilestones(x, team!)).map((m) => m.name);
    const fs = [];
    for (const n of names) fs.push(await frontierOf(x, team!, n));
    const safe = fs.every((f) => f.checkpoints.every((c) => c.safe));
    if (flags.json) json({ ok: true, safe, milestones: fs });
    else out(fs.length ? fs.map((f) => fmtFrontier(f, e)).join("\n\n") : `No milestones in team ${e(team)}.`);
    return safe ? 0 : REFUSED;
  },
};

export const vote: Command = {
  name: "vote",
  synopsis: syn("vote <team> [id] [choice…]", "list, show, cast, propose (--propose) or close votes"),
  help: `Usage: clanker-teams vote <team> [--json] [--as NAME]               list the votes
       clanker-teams vote <team> <id>                                  show one
       clanker-teams vote <team> <id> <choice…> [--comment C]          cast (ranked: best first)
       clanker-teams vote <team> <id> --close                          close it now
       clanker-teams vote <team> --propose "question" [--options a,b,c] [--kind yes_no|single|ranked]
                          [--rule majority|two_thirds|unanimous|quorum] [--voters a,b] [--deadline S]

A vote closes when every voter has voted, at its deadline, or when its
proposer or the lead closes it; every voter and the proposer get the result.`,
  values: ["propose", "options", "kind", "rule", "voters", "deadline", "comment"], bools: ["json", "close"], maxArgs: 22, argsHint: "a team, a vote id and choices",
  async run({ args: [team, id, ...choice], flags }, ctx) {
    need(team, "a team", "vote");
    const x = ctx();
    const show = (v: unknown, text: string) => (flags.json ? json({ ok: true, ...(v as object) }) : out(text));
    const question = str(flags.propose);
    if (question !== undefined) {
      if (id !== undefined) throw new Error("vote --propose takes no vote id");
      const p = await proposeVote(x, team!, { question, options: list(str(flags.options)), kind: str(flags.kind), rule: str(flags.rule), voters: list(str(flags.voters)), deadline_s: seconds("deadline", flags.deadline) });
      show({ vote: p }, fmtVote(p, e));
      return 0;
    }
    if (id === undefined) {
      const all = await listVotes(x, team!);
      show({ votes: all }, all.length ? all.map((p) => fmtVote(p, e)).join("\n") : "No votes yet.");
      return 0;
    }
    if (flags.close) {
      const p = await closeVote(x, team!, id);
      show({ vote: p }, fmtVote(p, e));
      return 0;
    }
    if (!choice.length) {
      const p = await getVote(x, team!, id);
      show({ vote: p }, fmtVote(p, e));
      return 0;
    }
    const p = await castVote(x, team!, { proposal_id: id, choice, comment: str(flags.comment) });
    show({ vote: p }, `Your vote on ${e(p.id)}: ${choice.map(e).join(" > ")}.\n${fmtVote(p, e)}`);
    return 0;
  },
};

/** `status --as NAME`: team_status for a shell (the team: given, or the only one NAME is in). */
export async function personalStatus(team: string | undefined, flags: Parsed["flags"], ctx: () => Ctx): Promise<number> {
  const x = ctx();
  let name = team;
  if (name === undefined) {
    const mine = [];
    for (const t of await listTeams(x)) {
      const cfg = await x.store.getTeam(t);
      if (cfg && (x.actor === cfg.leadName || findMember(cfg, x.actor))) mine.push(t);
    }
    if (mine.length !== 1) throw new Error(`status --as ${visible(x.actor)}: ${mine.length ? `is in several teams (${mine.map(e).join(", ")}); name one` : "is in no team"}: clanker-teams status <team> --as ${visible(x.actor)}`);
    name = mine[0]!;
  }
  const s = await teamStatus(x, name);
  if (flags.json) json(s);
  else out(fmtTeamStatus(s, e));
  return 0;
}
