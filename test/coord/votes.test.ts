/**
 * Votes: the tally for each kind and rule (ties, ranked elimination), and a
 * vote's life on the store: closing when all voted (atomic with the last
 * vote), at the deadline (lazily on read, and by the sweep), by its proposer;
 * the result to every voter and the proposer; changing a vote.
 */
import { afterAll, describe, expect, it } from "vitest";
import { castVote, closeVote, getVote, listVotes, proposeVote, tally, type Proposal } from "../../src/domain/votes.js";
import { recoverAbandoned } from "../../src/domain/presence.js";
import { readInbox } from "../../src/domain/messages.js";
import { readEvents } from "../../src/domain/events.js";
import { cleanupTemp, teamWith, world } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

type P = Pick<Proposal, "kind" | "rule" | "options" | "voters" | "votes">;
/** A proposal with these ballots (voter i casts ballots[i]; missing voters did not vote). */
function p(kind: P["kind"], rule: P["rule"], ballots: string[][], opts: { options?: string[]; voters?: number } = {}): P {
  const n = opts.voters ?? ballots.length;
  const voters = Array.from({ length: n }, (_, i) => `v${i}`);
  const votes = Object.fromEntries(ballots.map((b, i) => [`v${i}`, { choice: b, at: "" }]));
  return { kind, rule, options: opts.options ?? (kind === "yes_no" ? ["yes", "no"] : ["a", "b", "c"]), voters, votes };
}
const yn = (...v: string[]) => v.map((x) => [x]);

describe("tally: yes_no", () => {
  it("majority: more yes than half passes; a tie does not", () => {
    expect(tally(p("yes_no", "majority", yn("yes", "yes", "no")))).toMatchObject({ winner: "yes", cast: 3 });
    const tie = tally(p("yes_no", "majority", yn("yes", "no", "yes", "no")));
    expect(tie.winner).toBe("no");
    expect(tie.reason).toMatch(/a tie does not pass/);
  });
  it("two_thirds: exactly two thirds passes, less does not", () => {
    expect(tally(p("yes_no", "two_thirds", yn("yes", "yes", "no"))).winner).toBe("yes");
    expect(tally(p("yes_no", "two_thirds", yn("yes", "yes", "yes", "no", "no"))).winner).toBe("no");
  });
  it("unanimous: every voter must vote yes", () => {
    expect(tally(p("yes_no", "unanimous", yn("yes", "yes", "yes"))).winner).toBe("yes");
    expect(tally(p("yes_no", "unanimous", yn("yes", "yes", "no"))).winner).toBe("no");
    const missing = tally(p("yes_no", "unanimous", yn("yes", "yes"), { voters: 3 }));
    expect(missing).toMatchObject({ winner: "no", cast: 2, voters: 3 });
    expect(missing.reason).toMatch(/1 of 3 voters did not vote/);
  });
  it("quorum: more than half of the voters must vote, then more yes than no", () => {
    const none = tally(p("yes_no", "quorum", yn("yes", "yes"), { voters: 4 }));
    expect(none.winner).toBeNull();
    expect(none.reason).toMatch(/no quorum: 2 of 4/);
    expect(tally(p("yes_no", "quorum", yn("yes", "yes", "no"), { voters: 4 })).winner).toBe("yes");
    expect(tally(p("yes_no", "quorum", yn("yes", "no", "no"), { voters: 5 })).winner).toBe("no");
  });
  it("nobody voted: no decision", () => {
    expect(tally(p("yes_no", "majority", [], { voters: 3 }))).toMatchObject({ winner: null, reason: "nobody voted" });
  });
});

describe("tally: single", () => {
  const s = (...v: string[]) => v.map((x) => [x]);
  it("majority needs more than half: a plurality is not enough; a tie decides nothing", () => {
    expect(tally(p("single", "majority", s("a", "a", "b"))).winner).toBe("a");
    expect(tally(p("single", "majority", s("a", "a", "a", "b", "b", "c", "c"))).winner).toBeNull(); // 3 of 7
    const tie = tally(p("single", "majority", s("a", "a", "b", "c", "b")));
    expect(tie.winner).toBeNull();
    expect(tie.reason).toBe("no option has more than half of the 5 votes (tie: a, b have 2 each)");
  });
  it("two_thirds and unanimous", () => {
    expect(tally(p("single", "two_thirds", s("b", "b", "a"))).winner).toBe("b");
    expect(tally(p("single", "two_thirds", s("b", "b", "a", "c"))).winner).toBeNull();
    expect(tally(p("single", "unanimous", s("c", "c", "c"))).winner).toBe("c");
    expect(tally(p("single", "unanimous", s("c", "c", "a"))).winner).toBeNull();
  });
  it("quorum: the most votes win once more than half voted; a tie for most decides nothing", () => {
    expect(tally(p("single", "quorum", s("a", "b", "c", "c"), { voters: 5 })).winner).toBe("c");
    const tie = tally(p("single", "quorum", s("a", "b", "a", "b"), { voters: 5 }));
    expect(tie.winner).toBeNull();
    expect(tie.reason).toBe("tie: a, b have 2 votes each");
    expect(tally(p("single", "quorum", s("a", "a"), { voters: 5 })).winner).toBeNull();
  });
});

describe("tally: ranked (instant-runoff)", () => {
  const times = (n: number, b: string[]) => Array.from({ length: n }, () => b);
  const four = { options: ["a", "b", "c", "d"] };
  it("a first-round majority wins at once", () => {
    const t = tally(p("ranked", "majority", [["a", "b"], ["a", "c"], ["b", "a"]]));
    expect(t.winner).toBe("a");
    expect(t.rounds).toHaveLength(1);
  });
  it("drops the weakest and moves its ballots to their next choice", () => {
    const t = tally(p("ranked", "majority", [["a"], ["a", "b"], ["b", "a"], ["b"], ["c", "b", "a"]]));
    expect(t.rounds).toEqual([
      { counts: { a: 2, b: 2, c: 1 }, eliminated: ["c"] },
      { counts: { a: 2, b: 3 }, eliminated: [] },
    ]);
    expect(t).toMatchObject({ winner: "b", counts: { a: 2, b: 2, c: 1 }, reason: "b has 3 of 5 ballots in round 2" });
  });
  it("the first-round leader loses when the others' ballots transfer", () => {
    const t = tally(p("ranked", "majority", [...times(4, ["a"]), ...times(2, ["b", "c"]), ...times(3, ["c", "b"])]));
    expect(t.rounds!.map((r) => r.eliminated)).toEqual([["b"], []]);
    expect(t.winner).toBe("c");
  });
  it("a tie for fewest is broken by the round before", () => {
    const t = tally(p("ranked", "majority", [...times(5, ["a"]), ...times(3, ["b"]), ...times(2, ["c"]), ["d", "c"], ...times(4, ["x"])], { options: ["a", "b", "c", "d", "x"] }));
    // Round 2: b and c have 3 each; in round 1 c had 2, b 3: c goes.
    expect(t.rounds![1]).toEqual({ counts: { a: 5, b: 3, c: 3, x: 4 }, eliminated: ["c"] });
    expect(t.rounds!.map((r) => r.eliminated)).toEqual([["d"], ["c"], ["b"], []]);
    expect(t.winner).toBe("a");
  });
  it("options tied for fewest go together when together they have fewer votes than any other", () => {
    const t = tally(p("ranked", "majority", [...times(4, ["a"]), ...times(3, ["b"]), ["c", "a"], ["d", "b"]], four));
    expect(t.rounds).toEqual([{ counts: { a: 4, b: 3, c: 1, d: 1 }, eliminated: ["c", "d"] }, { counts: { a: 5, b: 4 }, eliminated: [] }]);
    expect(t.winner).toBe("a");
  });
  it("a tie for fewest that decides the winner decides nothing; one that does not is followed both ways", () => {
    const decides = tally(p("ranked", "majority", [...times(3, ["a"]), ...times(2, ["b", "c"]), ...times(2, ["c", "b"])]));
    expect(decides.winner).toBeNull();
    expect(decides.reason).toBe("tie: b and c tie for fewest in round 1 and which goes first decides it (b out first: c; c out first: b)");
    const same = tally(p("ranked", "majority", [...times(4, ["a"]), ...times(2, ["b", "a"]), ...times(2, ["c", "a"])]));
    expect(same.winner).toBe("a");
    expect(same.reason).toMatch(/b and c tied for fewest in round 1; whichever went first, a wins/);
  });
  it("ends without a winner on a tie of all or of the last two; two_thirds stops at the last two", () => {
    const all = tally(p("ranked", "majority", [["a"], ["b"], ["c"]]));
    expect(all).toMatchObject({ winner: null, reason: "tie: a, b, c have 1 each in round 1" });
    const last2 = tally(p("ranked", "majority", [["a"], ["a"], ["b"], ["b"], ["c"]]));
    expect(last2).toMatchObject({ winner: null, reason: "tie: a, b have 2 each in round 2" });
    expect(tally(p("ranked", "two_thirds", [...times(3, ["a"]), ...times(2, ["b"]), ["c", "b"]])).winner).toBeNull();
    expect(tally(p("ranked", "two_thirds", [...times(4, ["a"]), ["b"], ["c", "a"]])).winner).toBe("a");
    const short = tally(p("ranked", "two_thirds", [...times(4, ["a"]), ...times(3, ["b"])]));
    expect(short).toMatchObject({ winner: null, reason: "a has 4 of 7 ballots in the last round, not two thirds" });
  });
  it("unanimous: everyone's first choice (transfers do not make agreement); quorum", () => {
    expect(tally(p("ranked", "unanimous", [["a", "b"], ["a"], ["a", "c"]])).winner).toBe("a");
    expect(tally(p("ranked", "unanimous", [["a", "b"], ["b", "a"], ["a"]])).winner).toBeNull();
    expect(tally(p("ranked", "quorum", [["a"], ["b", "a"]], { voters: 5 })).winner).toBeNull();
    expect(tally(p("ranked", "quorum", [["a"], ["a"], ["b", "a"]], { voters: 5 })).winner).toBe("a");
  });
});

describe("a vote on the store", () => {
  it("closes in the same edit as the last vote; the result goes to every voter and the proposer; votes can change until then", async () => {
    const w = world();
    await teamWith(w, "t", ["alice", "bob", "carol"]);
    const alice = w.as("alice");
    const v = await proposeVote(alice, "t", { question: "Which DB?", options: ["postgres", "sqlite", "duckdb"], kind: "ranked", voters: ["bob", "carol", "team-lead"] });
    expect(v).toMatchObject({ id: "1", kind: "ranked", rule: "majority", status: "open", voters: ["bob", "carol", "team-lead"] });
    // voters are asked (the proposer is not a voter here)
    for (const who of ["bob", "carol", "team-lead"]) expect((await readInbox(w.as(who), "t")).messages.map((m) => m.kind)).toEqual(["vote_proposed"]);
    await castVote(w.as("bob"), "t", { proposal_id: "1", choice: ["sqlite", "postgres"] });
    await castVote(w.as("bob"), "t", { proposal_id: "1", choice: ["duckdb", "postgres"], comment: "changed my mind" });
    await castVote(w.as("carol"), "t", { proposal_id: "1", choice: ["postgres"] });
    expect((await getVote(w.as(), "t", "1")).status).toBe("open");
    const done = await castVote(w.as(), "t", { proposal_id: "1", choice: ["sqlite", "postgres"] });
    // first choices: duckdb 1, postgres 1, sqlite 1 → all tied → no winner? No: all three tied means a tie.
    expect(done.status).toBe("closed");
    expect(done.closedBy).toBe("all voted");
    expect(done.votes.bob!.choice).toEqual(["duckdb", "postgres"]);
    expect(done.result!.winner).toBeNull();
    const evs = await readEvents(w.as(), "t");
    const closed = evs.filter((e) => e.kind === "vote.closed");
    expect(closed).toHaveLength(1);
    // the last vote and the close are one write: adjacent in the log
    const last = evs.findIndex((e) => e.kind === "vote.closed");
    expect(evs[last - 1]).toMatchObject({ kind: "vote.cast", actor: "team-lead" });
    for (const who of ["alice", "bob", "carol", "team-lead"]) {
      const got = (await readInbox(w.as(who), "t")).messages.filter((m) => m.kind === "vote_closed");
      expect(got, who).toHaveLength(1);
      expect(got[0]!.content).toMatch(/Vote 1 "Which DB\?" closed \(all voted\): no decision/);
    }
    // a vote after closing is refused and changes nothing
    await expect(castVote(w.as("bob"), "t", { proposal_id: "1", choice: ["sqlite"] })).rejects.toThrow(/vote 1 is closed/);
    expect((await getVote(w.as(), "t", "1")).votes.bob!.choice).toEqual(["duckdb", "postgres"]);
  });

  it("closes at the deadline: lazily when read, or by the lead's sweep; the late vote is refused", async () => {
    const w = world();
    await teamWith(w, "t", ["alice", "bob"]);
    await proposeVote(w.as("alice"), "t", { question: "Merge now?", deadline_s: 60 });
    await proposeVote(w.as("alice"), "t", { question: "Tag it?", deadline_s: 60, rule: "quorum" });
    await castVote(w.as("bob"), "t", { proposal_id: "1", choice: "yes" });
    await castVote(w.as("bob"), "t", { proposal_id: "2", choice: ["yes"] });
    w.clock.advance(61_000);
    // read: closes vote 1 (and 2) lazily
    const one = await getVote(w.as("alice"), "t", "1");
    expect(one).toMatchObject({ status: "closed", closedBy: "deadline" });
    expect(one.result).toMatchObject({ winner: "yes", cast: 1, voters: 3 });
    const two = (await listVotes(w.as(), "t")).find((p) => p.id === "2")!;
    expect(two.result).toMatchObject({ winner: null });
    expect(two.result!.reason).toMatch(/no quorum: 1 of 3/);
    await expect(castVote(w.as("alice"), "t", { proposal_id: "1", choice: "no" })).rejects.toThrow(/closed \(deadline/);
    // the sweep closes a third one without anyone reading it
    await proposeVote(w.as("bob"), "t", { question: "Lunch?", deadline_s: 10 });
    w.clock.advance(11_000);
    await recoverAbandoned(w.as(), "t");
    const evs = await readEvents(w.as(), "t");
    expect(evs.filter((e) => e.kind === "vote.closed").map((e) => e.data.id)).toEqual(["1", "2", "3"]);
    expect((await readInbox(w.as("bob"), "t")).messages.filter((m) => m.kind === "vote_closed")).toHaveLength(3);
  });

  it("its proposer or the lead may close it early; others may not; bad input names the field", async () => {
    const w = world();
    await teamWith(w, "t", ["alice", "bob"]);
    await proposeVote(w.as("alice"), "t", { question: "Rename?", options: ["x", "y"] });
    await expect(closeVote(w.as("bob"), "t", "1")).rejects.toThrow(/only alice .* or team-lead may close vote 1/);
    await castVote(w.as("bob"), "t", { proposal_id: "1", choice: ["Y"] });
    const c = await closeVote(w.as("alice"), "t", "1");
    expect(c).toMatchObject({ status: "closed", closedBy: "closed by alice", result: { winner: "y" } });
    await expect(proposeVote(w.as("bob"), "t", { question: "q", options: ["a"] })).rejects.toThrow(/^options: needs 2 to 20 options/);
    await expect(proposeVote(w.as("bob"), "t", { question: "q", kind: "yes_no", options: ["a", "b"] })).rejects.toThrow(/^options: a yes_no vote/);
    await expect(proposeVote(w.as("bob"), "t", { question: "q", rule: "most" })).rejects.toThrow(/^rule: must be one of majority, two_thirds, unanimous, quorum/);
    await expect(proposeVote(w.as("bob"), "t", { question: "q", voters: ["zed"] })).rejects.toThrow(/^voters\[0\]: "zed" is not a member/);
    await expect(proposeVote(w.as("bob"), "t", { question: "q", deadline_s: -1 })).rejects.toThrow(/^deadline_s:/);
    await proposeVote(w.as("bob"), "t", { question: "Pick", options: ["a", "b"], voters: ["alice"] });
    await expect(castVote(w.as("bob"), "t", { proposal_id: "2", choice: ["a"] })).rejects.toThrow(/not a voter of vote 2/);
    await expect(castVote(w.as("alice"), "t", { proposal_id: "2", choice: ["c"] })).rejects.toThrow(/^choice\[0\]: "c" is not an option of vote 2; options: a, b/);
    await expect(castVote(w.as("alice"), "t", { proposal_id: "2", choice: ["a", "b"] })).rejects.toThrow(/^choice: a single vote takes one option/);
    await expect(castVote(w.as("alice"), "t", { proposal_id: "9", choice: ["a"] })).rejects.toThrow(/^proposal_id: there is no vote 9/);
  });
});
