/**
 * Votes: a member proposes a question to some voters (default: every
 * member); each voter has one vote, which it may change until the vote
 * closes. It closes when every voter has voted (in the same atomic edit as
 * the last vote), when its deadline passes (closed lazily by whoever reads it
 * and by the sweep), or when the proposer or the lead closes it. The tally
 * and the winner go to every voter and the proposer.
 *
 * Kinds: yes_no, single (one option), ranked (options in order of
 * preference, counted by instant-runoff). Rules (V voters, C votes cast):
 * - majority: the winner has more than half of the votes counted;
 * - two_thirds: at least two thirds of them;
 * - unanimous: every voter voted, all for the winner (ranked: as first choice);
 * - quorum: more than half of the voters voted, then the most votes win
 *   (yes_no: more yes than no; ranked: instant-runoff to a majority).
 * A yes_no vote that does not pass is decided "no"; a tie for the most votes
 * decides nothing (winner null). Instant-runoff drops the option with the
 * fewest votes each round (a tie for fewest: the one with fewer votes in the
 * round before, going back round by round; still tied: all of them at once
 * when together they have fewer votes than any other option, else each
 * order is followed and only a winner common to all of them wins), ballots
 * move to their next choice, until an option reaches the rule's share of the
 * ballots still counting, or only two are left (then a tie, or for
 * two_thirds a share too small, decides nothing).
 */
import type { Ctx } from "../context.js";
import { TeamsError, invalid } from "../errors.js";
import { LEAD_NAME } from "../names.js";
import { ev } from "./events.js";
import { systemMessage } from "./messages.js";
import { isLead, memberNames, readTeam, requireMember } from "./teams.js";

export const VOTE_KINDS = ["yes_no", "single", "ranked"] as const;
export const VOTE_RULES = ["majority", "two_thirds", "unanimous", "quorum"] as const;
export type VoteKind = (typeof VOTE_KINDS)[number];
export type VoteRule = (typeof VOTE_RULES)[number];

export interface Ballot { choice: string[]; comment?: string; at: string }
export interface Round { counts: Record<string, number>; eliminated: string[] }
export interface Tally {
  /** First-choice counts (every option listed). */
  counts: Record<string, number>;
  cast: number;
  voters: number;
  winner: string | null;
  /** Why this winner, or why none. */
  reason: string;
  /** Instant-runoff rounds (ranked). */
  rounds?: Round[];
}

export interface Proposal {
  id: string;
  question: string;
  kind: VoteKind;
  rule: VoteRule;
  options: string[];
  voters: string[];
  proposer: string;
  createdAt: string;
  deadline?: string;
  votes: Record<string, Ballot>;
  status: "open" | "closed";
  closedAt?: string;
  /** "all voted" | "deadline" | "closed by NAME". */
  closedBy?: string;
  result?: Tally;
  /** The voters and proposer were sent the result. */
  notified?: boolean;
}

const COLL = "votes";
const META = "vote-meta";
const MAX_OPTIONS = 20;
const MAX_QUESTION = 500;
const MAX_COMMENT = 500;
export const MAX_DEADLINE_S = 30 * 24 * 3600;
/** A closed vote whose result was not sent this long after closing (its closer died) is sent by the sweep. */
const RENOTIFY_AFTER_MS = 60_000;

const share = { majority: [1, 2, false], two_thirds: [2, 3, true], unanimous: [1, 1, true], quorum: [1, 2, false] } as const;

/** True when `n` of `of` reaches the rule's share (majority: more than half; two thirds: at least; unanimous: all). */
function reaches(rule: VoteRule, n: number, of: number): boolean {
  if (of <= 0) return false;
  const [num, den, atLeast] = share[rule];
  return atLeast ? n * den >= num * of : n * den > num * of;
}

/** Counts the ballots of a proposal by its kind and rule (pure). */
export function tally(p: Pick<Proposal, "kind" | "rule" | "options" | "voters" | "votes">): Tally {
  const ballots = Object.values(p.votes).map((b) => b.choice).filter((c) => c.length);
  const cast = ballots.length;
  const voters = p.voters.length;
  const counts: Record<string, number> = Object.fromEntries(p.options.map((o) => [o, 0]));
  for (const b of ballots) counts[b[0]!] = (counts[b[0]!] ?? 0) + 1;
  const base = { counts, cast, voters };
  if (!cast) return { ...base, winner: null, reason: "nobody voted" };
  if (p.rule === "quorum" && !(cast * 2 > voters)) return { ...base, winner: null, reason: `no quorum: ${cast} of ${voters} voters voted; more than half must` };
  if (p.rule === "unanimous" && cast < voters) {
    return { ...base, winner: p.kind === "yes_no" ? "no" : null, reason: `not unanimous: ${voters - cast} of ${voters} voters did not vote` };
  }
  const ranked = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const [top, n] = ranked[0]!;
  const tied = ranked.filter(([, k]) => k === n).map(([o]) => o);
  if (p.kind === "ranked" && p.rule !== "unanimous") return { ...base, ...runoff(p.rule, p.options, ballots) };
  if (p.kind === "ranked") {
    // Unanimous: everyone's first choice; transfers do not make agreement.
    return n === cast ? { ...base, winner: top, reason: `every voter ranked ${top} first` } : { ...base, winner: null, reason: `not unanimous: first choices differ (${ranked.filter(([, k]) => k).map(([o, k]) => `${o} ${k}`).join(", ")})` };
  }
  if (p.kind === "yes_no") {
    const yes = counts.yes ?? 0;
    const no = counts.no ?? 0;
    const passes = p.rule === "quorum" ? yes > no : reaches(p.rule, yes, cast);
    const need = { majority: "more than half", two_thirds: "at least two thirds", unanimous: "every vote", quorum: "more yes than no" }[p.rule];
    return { ...base, winner: passes ? "yes" : "no", reason: `${yes} yes, ${no} no: ${passes ? "passes" : "does not pass"} (${need} must be yes${yes === no ? "; a tie does not pass" : ""})` };
  }
  if (tied.length > 1 && (p.rule === "quorum" || reaches(p.rule, n, cast))) return { ...base, winner: null, reason: `tie: ${tied.join(", ")} have ${n} votes each` };
  if (p.rule === "quorum") return { ...base, winner: top, reason: `${top} has the most votes (${n} of ${cast})` };
  if (reaches(p.rule, n, cast)) return { ...base, winner: top, reason: `${top} has ${n} of ${cast} votes (${p.rule.replace("_", " ")})` };
  return { ...base, winner: null, reason: `no option has ${p.rule === "two_thirds" ? "two thirds" : p.rule === "unanimous" ? "every vote" : "more than half"} of the ${cast} votes${tied.length > 1 ? ` (tie: ${tied.join(", ")} have ${n} each)` : ` (${top} has ${n})`}` };
}

type Runoff = { winner: string | null; reason: string; rounds: Round[] };

/** Instant-runoff over ranked ballots (see the module comment). */
function runoff(rule: Exclude<VoteRule, "unanimous">, options: string[], ballots: string[][]): Runoff {
  const need = rule === "quorum" ? "majority" : rule;
  let budget = 2000; // followed branches of ties; more ties than this are not separated
  const go = (start: string[], prior: Round[]): Runoff => {
    let left = start;
    const rounds = [...prior];
    for (;;) {
      const counts: Record<string, number> = Object.fromEntries(left.map((o) => [o, 0]));
      let counting = 0;
      for (const b of ballots) {
        const pick = b.find((o) => left.includes(o));
        if (pick !== undefined) { counts[pick]!++; counting++; }
      }
      const round: Round = { counts, eliminated: [] };
      rounds.push(round);
      const n = rounds.length;
      const order = [...left].sort((a, b) => counts[b]! - counts[a]!);
      const top = order[0]!;
      const topTied = order.filter((o) => counts[o] === counts[top]);
      if (topTied.length === 1 && reaches(need, counts[top]!, counting)) return { winner: top, reason: `${top} has ${counts[top]} of ${counting} ballots in round ${n}`, rounds };
      if (left.length <= 2 || topTied.length === left.length) {
        const why = topTied.length > 1 ? `tie: ${topTied.join(", ")} have ${counts[top]} each in round ${n}` : `${top} has ${counts[top]} of ${counting} ballots in the last round, not ${need === "two_thirds" ? "two thirds" : "more than half"}`;
        return { winner: null, reason: why, rounds };
      }
      const low = Math.min(...left.map((o) => counts[o]!));
      let out = left.filter((o) => counts[o] === low);
      // Tie for fewest: fewer votes in earlier rounds goes first, looking back round by round.
      for (let r = n - 2; r >= 0 && out.length > 1; r--) {
        const prev = rounds[r]!.counts;
        const min = Math.min(...out.map((o) => prev[o] ?? 0));
        out = out.filter((o) => (prev[o] ?? 0) === min);
      }
      const rest = left.filter((o) => !out.includes(o));
      // Dropping them together is safe when together they have fewer votes than any other option;
      // otherwise which goes first may decide the winner: follow each, and only a common winner wins.
      if (out.length > 1 && out.reduce((k, o) => k + counts[o]!, 0) >= Math.min(...rest.map((o) => counts[o]!))) {
        if ((budget -= out.length) < 0) return { winner: null, reason: `tie: too many ties to separate (${out.join(", ")} in round ${n})`, rounds };
        const branches = out.map((x) => go(left.filter((o) => o !== x), rounds.map((r) => (r === round ? { ...r, eliminated: [x] } : r))));
        const w = branches[0]!.winner;
        if (w !== null && branches.every((b) => b.winner === w)) return { ...branches[0]!, reason: `${branches[0]!.reason} (${out.join(" and ")} tied for fewest in round ${n}; whichever went first, ${w} wins)` };
        round.eliminated = out;
        return { winner: null, reason: `tie: ${out.join(" and ")} tie for fewest in round ${n} and which goes first decides it (${branches.map((b, i) => `${out[i]} out first: ${b.winner ?? "no winner"}`).join("; ")})`, rounds };
      }
      round.eliminated = out;
      left = rest;
    }
  };
  return go([...options], []);
}

export interface ProposeInput { question?: unknown; options?: unknown; kind?: unknown; rule?: unknown; voters?: unknown; deadline_s?: unknown }

function str(field: string, v: unknown, max: number): string {
  if (typeof v !== "string" || !v.trim()) throw invalid(field, "must be a non-empty string");
  if (v.length > max) throw invalid(field, `is ${v.length} characters; the limit is ${max}`);
  if (v.includes("\u0000")) throw invalid(field, "contains a NUL character; remove it");
  return v.trim();
}

/** Opens a vote; returns it. Voters get a message asking for their vote. */
export async function proposeVote(ctx: Ctx, team: string, input: ProposeInput): Promise<Proposal> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const question = str("question", input.question, MAX_QUESTION);
  if (input.kind !== undefined && !VOTE_KINDS.includes(input.kind as VoteKind)) throw invalid("kind", `must be one of ${VOTE_KINDS.join(", ")} (got ${JSON.stringify(input.kind)})`);
  if (input.rule !== undefined && !VOTE_RULES.includes(input.rule as VoteRule)) throw invalid("rule", `must be one of ${VOTE_RULES.join(", ")} (got ${JSON.stringify(input.rule)})`);
  const kind: VoteKind = (input.kind as VoteKind | undefined) ?? (input.options === undefined ? "yes_no" : "single");
  const rule: VoteRule = (input.rule as VoteRule | undefined) ?? "majority";
  let options: string[];
  if (kind === "yes_no") {
    if (input.options !== undefined) throw invalid("options", `a yes_no vote has the options yes and no; leave options out, or set kind "single"`);
    options = ["yes", "no"];
  } else {
    if (!Array.isArray(input.options)) throw invalid("options", `a ${kind} vote needs a list of options, e.g. ["postgres", "sqlite"]`);
    options = input.options.map((o, i) => str(`options[${i}]`, o, 100));
    if (new Set(options.map((o) => o.toLowerCase())).size !== options.length) throw invalid("options", "has the same option twice; options must differ");
    if (options.length < 2 || options.length > MAX_OPTIONS) throw invalid("options", `needs 2 to ${MAX_OPTIONS} options (got ${options.length})`);
  }
  let voters: string[];
  if (input.voters === undefined) voters = memberNames(cfg);
  else {
    if (!Array.isArray(input.voters) || !input.voters.length) throw invalid("voters", "must be a non-empty list of member names; leave it out for every member");
    voters = [...new Set(input.voters.map((v, i) => requireMember(cfg, `voters[${i}]`, String(v))))];
  }
  const d = input.deadline_s;
  if (d !== undefined && (typeof d !== "number" || !Number.isFinite(d) || d <= 0 || d > MAX_DEADLINE_S)) throw invalid("deadline_s", `must be seconds from now, 1 to ${MAX_DEADLINE_S} (got ${JSON.stringify(d)}); leave it out to close when everyone voted`);
  const now = await ctx.store.now();
  const id = String(await ctx.store.editDoc<{ next: number }, number>(team, META, "seq", (cur) => {
    const n = cur?.next ?? 1;
    return { value: n, write: { next: n + 1 } };
  }));
  const p: Proposal = { id, question, kind, rule, options, voters, proposer: me, createdAt: new Date(now).toISOString(), votes: {}, status: "open" };
  if (d !== undefined) p.deadline = new Date(now + (d as number) * 1000).toISOString();
  await ctx.store.editDoc<Proposal, void>(team, COLL, id, (cur) => {
    if (cur) throw new TeamsError("CONFLICT", `vote ${id} exists already`);
    return { value: undefined, write: p, events: [ev(ctx, "vote.proposed", { id, question, kind, rule, options, voters, deadline: p.deadline })] };
  });
  const how = kind === "yes_no" ? `choice ["yes"] or ["no"]` : kind === "single" ? `choice [one of: ${options.join(", ")}]` : `choice [the options best first: ${options.join(", ")}]`;
  for (const v of voters) {
    if (v === me) continue;
    await systemMessage(ctx, team, v, `Vote ${id}: ${question}`.slice(0, 200), `${me} asks you to vote (vote ${id}, ${kind.replace("_", "/")}, ${rule.replace("_", " ")}${p.deadline ? `, closes ${p.deadline}` : ""}): ${question}\nVote with the vote tool: action "cast", proposal_id "${id}", ${how}.`, "vote_proposed").catch(() => undefined);
  }
  return p;
}

/** Validates a choice for a proposal: its options in canonical spelling. */
function choiceFor(p: Proposal, raw: unknown): string[] {
  const list = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(list) || !list.length) throw invalid("choice", `is required: ${p.kind === "yes_no" ? `["yes"] or ["no"]` : `options from ${p.options.join(", ")}`}`);
  const picked = list.map((c, i) => {
    const o = typeof c === "string" ? p.options.find((x) => x.toLowerCase() === c.trim().toLowerCase()) : undefined;
    if (!o) throw invalid(`choice[${i}]`, `${JSON.stringify(c)} is not an option of vote ${p.id}; options: ${p.options.join(", ")}`);
    return o;
  });
  if (p.kind !== "ranked" && picked.length !== 1) throw invalid("choice", `a ${p.kind} vote takes one option (got ${picked.length})`);
  if (new Set(picked).size !== picked.length) throw invalid("choice", "names an option twice; rank each option once");
  return picked;
}

function close(p: Proposal, now: number, by: string): void {
  p.status = "closed";
  p.closedAt = new Date(now).toISOString();
  p.closedBy = by;
  p.result = tally(p);
}

const closedEvent = (ctx: Ctx, p: Proposal) => ev(ctx, "vote.closed", { id: p.id, closedBy: p.closedBy, winner: p.result?.winner ?? null, reason: p.result?.reason, counts: p.result?.counts, cast: p.result?.cast });

const due = (p: Proposal, now: number) => p.status === "open" && p.deadline !== undefined && Date.parse(p.deadline) <= now;

async function getProposal(ctx: Ctx, team: string, raw: unknown): Promise<Proposal> {
  const id = typeof raw === "number" ? String(raw) : raw;
  if (typeof id !== "string" || !/^\d{1,9}$/.test(id.trim())) throw invalid("proposal_id", `must be a vote id such as "1" (got ${JSON.stringify(raw)}); vote action "list" shows them`);
  const p = await ctx.store.getDoc<Proposal>(team, COLL, id.trim());
  if (!p) throw new TeamsError("NOT_FOUND", `proposal_id: there is no vote ${id.trim()} in team "${team}"; vote action "list" shows them.`, { field: "proposal_id" });
  return p;
}

/** Sends the result of a closed vote to every voter and the proposer, once (marks it sent). */
async function announce(ctx: Ctx, team: string, p: Proposal): Promise<void> {
  const r = p.result!;
  const counts = Object.entries(r.counts).map(([o, n]) => `${o} ${n}`).join(", ");
  const text = `Vote ${p.id} "${p.question}" closed (${p.closedBy}): ${r.winner === null ? "no decision" : `winner: ${r.winner}`}. ${r.reason}. First choices: ${counts}; ${r.cast} of ${r.voters} voted.${r.rounds && r.rounds.length > 1 ? ` Rounds: ${r.rounds.map((x, i) => `${i + 1}: ${Object.entries(x.counts).map(([o, n]) => `${o} ${n}`).join(", ")}${x.eliminated.length ? ` (out: ${x.eliminated.join(", ")})` : ""}`).join("; ")}.` : ""}`;
  for (const to of new Set([...p.voters, p.proposer])) {
    await systemMessage(ctx, team, to, `Vote ${p.id} closed: ${r.winner ?? "no decision"}`.slice(0, 200), text, "vote_closed").catch(() => undefined);
  }
  await ctx.store.editDoc<Proposal, void>(team, COLL, p.id, (cur) => (cur && !cur.notified ? { value: undefined, write: { ...cur, notified: true } } : { value: undefined }));
}

/** Casts (or changes) the caller's vote. The last missing vote closes it. */
export async function castVote(ctx: Ctx, team: string, input: { proposal_id?: unknown; choice?: unknown; comment?: unknown }): Promise<Proposal> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const p0 = await getProposal(ctx, team, input.proposal_id);
  const choice = choiceFor(p0, input.choice);
  const comment = input.comment === undefined || input.comment === "" ? undefined : str("comment", input.comment, MAX_COMMENT);
  if (!p0.voters.includes(me)) throw new TeamsError("FORBIDDEN", `you (${me}) are not a voter of vote ${p0.id}; its voters: ${p0.voters.join(", ")}.`);
  const now = await ctx.store.now();
  const r = await ctx.store.editDoc<Proposal, { p: Proposal; closedNow: boolean; late: boolean }>(team, COLL, p0.id, (cur) => {
    if (!cur) throw new TeamsError("NOT_FOUND", `proposal_id: vote ${p0.id} is gone`);
    if (cur.status === "closed") return { value: { p: cur, closedNow: false, late: false } };
    if (due(cur, now)) {
      close(cur, now, "deadline");
      return { value: { p: cur, closedNow: true, late: true }, write: cur, events: [closedEvent(ctx, cur)] };
    }
    cur.votes[me] = { choice, at: new Date(now).toISOString(), ...(comment ? { comment } : {}) };
    const events = [ev(ctx, "vote.cast", { id: cur.id, voter: me })];
    const all = cur.voters.every((v) => cur.votes[v]);
    if (all) { close(cur, now, "all voted"); events.push(closedEvent(ctx, cur)); }
    return { value: { p: cur, closedNow: all, late: false }, write: cur, events };
  });
  if (r.closedNow) await announce(ctx, team, r.p);
  if ((r.p.status === "closed" && !r.closedNow) || r.late) {
    throw new TeamsError("CONFLICT", `vote ${p0.id} is closed (${r.p.closedBy} at ${r.p.closedAt}); your vote was not counted. Result: ${r.p.result?.winner ?? "no decision"} (${r.p.result?.reason}).`, { id: p0.id, result: r.p.result });
  }
  return r.p;
}

/** Closes a vote now with the votes cast so far (its proposer or the lead). */
export async function closeVote(ctx: Ctx, team: string, rawId: unknown): Promise<Proposal> {
  const cfg = await readTeam(ctx, team);
  const me = requireMember(cfg, "caller (your identity)", ctx.actor);
  const p0 = await getProposal(ctx, team, rawId);
  if (p0.proposer !== me && !isLead(cfg, me)) throw new TeamsError("FORBIDDEN", `only ${p0.proposer} (who proposed it) or ${LEAD_NAME} may close vote ${p0.id}.`);
  const now = await ctx.store.now();
  const r = await ctx.store.editDoc<Proposal, { p: Proposal; closedNow: boolean }>(team, COLL, p0.id, (cur) => {
    if (!cur || cur.status === "closed") return { value: { p: cur ?? p0, closedNow: false } };
    close(cur, now, due(cur, now) ? "deadline" : `closed by ${me}`);
    return { value: { p: cur, closedNow: true }, write: cur, events: [closedEvent(ctx, cur)] };
  });
  if (r.closedNow) await announce(ctx, team, r.p);
  return r.p;
}

/** Closes votes past their deadline and sends results a dead closer did not send; returns those closed now. */
export async function closeDueVotes(ctx: Ctx, team: string): Promise<Proposal[]> {
  const docs = await ctx.store.listDocs<Proposal>(team, COLL);
  if (!docs.length) return [];
  const now = await ctx.store.now();
  const closed: Proposal[] = [];
  for (const { value: p } of docs) {
    if (due(p, now)) {
      const r = await ctx.store.editDoc<Proposal, Proposal | undefined>(team, COLL, p.id, (cur) => {
        if (!cur || !due(cur, now)) return { value: undefined };
        close(cur, now, "deadline");
        return { value: cur, write: cur, events: [closedEvent(ctx, cur)] };
      });
      if (r) { await announce(ctx, team, r); closed.push(r); }
    } else if (p.status === "closed" && !p.notified && now - Date.parse(p.closedAt ?? "") > RENOTIFY_AFTER_MS) {
      await announce(ctx, team, p);
    }
  }
  return closed;
}

/** One vote (closed first if its deadline passed). */
export async function getVote(ctx: Ctx, team: string, rawId: unknown): Promise<Proposal> {
  await readTeam(ctx, team);
  const p = await getProposal(ctx, team, rawId);
  if (due(p, await ctx.store.now())) await closeDueVotes(ctx, team);
  return getProposal(ctx, team, p.id);
}

/** Every vote, newest first (those past their deadline closed first). */
export async function listVotes(ctx: Ctx, team: string): Promise<Proposal[]> {
  await readTeam(ctx, team);
  await closeDueVotes(ctx, team);
  return (await ctx.store.listDocs<Proposal>(team, COLL)).map((d) => d.value).sort((a, b) => Number(b.id) - Number(a.id));
}
