/**
 * File reservations on both stores: conflicts (named), modes, all or
 * nothing, release, TTL, and liveness: a dead holder's reservations are
 * released and the lead told, a live or presence-less holder keeps them.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { listReservations, recoverReservations, releaseFiles, reserveFiles } from "../../src/domain/reservations.js";
import { recoverAbandoned, writePresence } from "../../src/domain/presence.js";
import { readInbox } from "../../src/domain/messages.js";
import { readEvents } from "../../src/domain/events.js";
import { removeMember } from "../../src/domain/teams.js";
import { callTool } from "../../src/tools/table.js";
import { cleanupTemp } from "../helpers/fixtures.js";
import { KINDS, settle } from "../contract/stores.js";
import { LEASE_MS, team, type Team } from "./helpers.js";

afterAll(async () => { await settle(); cleanupTemp(); });

describe.each(KINDS)("reservations on the %s store", (kind) => {
  let T: Team;
  afterEach(async () => { await T?.close(); });
  const reserve = (who: string, paths: unknown[], more: { exclusive?: boolean; reason?: string; ttl_s?: number } = {}) => reserveFiles(T.as(who), "t", { paths, ...more }, T.where);

  it("refuses an overlapping exclusive reservation, naming the holder, its paths, reason and since; shared ones share", async () => {
    T = await team(kind, "t", ["alice", "bob", "carol"]);
    const { reserved } = await reserve("alice", ["src/api/**"], { reason: "API refactor" });
    expect(reserved).toEqual([{ path: "src/api/**", holder: "alice", exclusive: true, reason: "API refactor", since: new Date(T.clock.now).toISOString() }]);
    const err = await reserve("bob", ["docs/x.md", "src/api/v2/*.ts"]).catch((e) => e);
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toBe(`paths: src/api/v2/*.ts (overlaps src/api/**) is reserved exclusively by alice ("API refactor") since ${reserved[0]!.since}. Ask alice with send_message to release it (file_release), or reserve other paths.`);
    expect(err.details.conflicts).toMatchObject([{ holder: "alice", path: "src/api/**", wanted: "src/api/v2/*.ts" }]);
    // all or nothing: docs/x.md was not reserved either
    expect((await listReservations(T.as(), "t")).map((r) => r.path)).toEqual(["src/api/**"]);
    // shared + shared is fine; exclusive over shared (or shared over exclusive) is not
    await reserve("bob", ["docs/**"], { exclusive: false });
    await reserve("carol", ["docs/guide.md"], { exclusive: false });
    await expect(reserve("alice", ["docs/guide.md"])).rejects.toThrow(/docs\/guide\.md \(overlaps docs\/\*\*\) is reserved shared by bob/);
    await expect(reserve("carol", ["src/api/x.ts"], { exclusive: false })).rejects.toThrow(/reserved exclusively by alice/);
    // a holder's own reservations never conflict; reserving again updates (TTL, reason) and keeps `since`
    T.clock.advance(5000);
    const again = await reserve("alice", ["src/api/**", "src/api/x.ts"], { reason: "still on it", ttl_s: 60 });
    expect(again.reserved[0]).toMatchObject({ since: reserved[0]!.since, reason: "still on it", expiresAt: new Date(T.clock.now + 60_000).toISOString() });
    const kinds = (await readEvents(T.as(), "t")).filter((e) => e.kind.startsWith("reservation.")).map((e) => `${e.kind} ${e.actor}`);
    expect(kinds).toEqual(["reservation.added alice", "reservation.added bob", "reservation.added carol", "reservation.added alice"]);
  });

  it("releases exactly the given patterns, or all of the caller's; normalises paths from the caller's directory", async () => {
    T = await team(kind, "t", ["alice", "bob"]);
    await reserveFiles(T.as("alice", { cwd: "/repo/web" }), "t", { paths: ["src/", "../README.md"] }, { cwd: "/repo/web", root: "/repo" });
    expect((await listReservations(T.as(), "t")).map((r) => r.path)).toEqual(["README.md", "web/src/**"]);
    const r = await releaseFiles(T.as("alice"), "t", { paths: ["README.md", "nope.txt"] }, T.where);
    expect(r.released.map((x) => x.path)).toEqual(["README.md"]);
    expect(r.notHeld).toEqual(["nope.txt"]);
    await reserve("bob", ["README.md"]);
    expect((await releaseFiles(T.as("bob"), "t", {}, T.where)).released.map((x) => x.path)).toEqual(["README.md"]);
    // bob's release of everything took none of alice's
    expect((await listReservations(T.as(), "t")).map((r) => `${r.holder} ${r.path}`)).toEqual(["alice web/src/**"]);
    await expect(reserve("bob", ["/etc/passwd"])).rejects.toThrow(/^paths\[0\]: "\/etc\/passwd" is outside the repository/);
    await expect(reserve("bob", [])).rejects.toThrow(/^paths: is empty/);
    await expect(reserve("bob", ["a"], { ttl_s: 0 })).rejects.toThrow(/^ttl_s: must be a number of seconds/);
    await expect(reserveFiles(T.as("zed"), "t", { paths: ["a"] }, T.where)).rejects.toThrow(/"zed" is not a member/);
  });

  it("a TTL lapses by the store's clock: others may reserve, the sweep removes it and tells its holder", async () => {
    T = await team(kind, "t", ["alice", "bob"]);
    await reserve("alice", ["a.txt"], { ttl_s: 30 });
    T.clock.advance(29_000);
    await expect(reserve("bob", ["a.txt"])).rejects.toThrow(/reserved exclusively by alice/);
    T.clock.advance(2000);
    expect(await listReservations(T.as(), "t")).toEqual([]);
    const swept = await recoverReservations(T.as(), "t");
    expect(swept.expired.map((r) => r.path)).toEqual(["a.txt"]);
    expect((await readInbox(T.as("alice"), "t")).messages.map((m) => m.kind)).toEqual(["reservation_expired"]);
    await reserve("bob", ["a.txt"]);
  });

  it("a dead holder's reservations are released (the lead is told); a live one is never evicted; no presence: kept", async () => {
    T = await team(kind, "t", ["alice", "bob", "carol"]);
    await writePresence(T.as("alice"), "t", "alice", { state: "busy", startedAt: new Date(T.clock.now).toISOString() });
    await reserve("alice", ["src/**"], { reason: "alive" });
    await reserve("carol", ["docs/**"]); // carol has no presence (a human at the CLI)
    // alive, even stalled: bob is refused, sweeps keep it
    T.clock.advance(LEASE_MS - 1000);
    await expect(reserve("bob", ["src/x.ts"])).rejects.toThrow(/reserved exclusively by alice/);
    await recoverAbandoned(T.as(), "t");
    expect((await listReservations(T.as(), "t")).map((r) => r.holder)).toEqual(["alice", "carol"]);
    // a heartbeat keeps it alive past the first lease
    await writePresence(T.as("alice"), "t", "alice", { state: "idle" });
    T.clock.advance(LEASE_MS - 1000);
    await recoverAbandoned(T.as(), "t");
    expect((await listReservations(T.as(), "t")).map((r) => r.holder)).toEqual(["alice", "carol"]);
    // silent past the lease: dead. The next one who runs into it gets it; the lead is told.
    T.clock.advance(2000);
    await reserve("bob", ["src/x.ts"]);
    expect((await listReservations(T.as(), "t")).map((r) => `${r.holder} ${r.path}`)).toEqual(["bob src/x.ts", "carol docs/**"]);
    const lead = (await readInbox(T.as(), "t")).messages.filter((m) => m.kind === "reservations_released");
    expect(lead).toHaveLength(1);
    expect(lead[0]!.content).toMatch(/^The file reservations of alice were released: src\/\*\*\. alice is dead \(no heartbeat for \d+ s\)\.$/);
    const ev = (await readEvents(T.as(), "t")).find((e) => e.kind === "reservation.recovered")!;
    expect(ev.data).toMatchObject({ holder: "alice", paths: ["src/**"] });
    // carol (no presence) keeps hers for good
    T.clock.advance(10 * LEASE_MS);
    await recoverAbandoned(T.as(), "t");
    expect((await listReservations(T.as(), "t")).map((r) => r.holder)).toContain("carol");
    // a member who left the team loses them
    await removeMember(T.as(), "t", "carol");
    await recoverAbandoned(T.as(), "t");
    expect((await listReservations(T.as(), "t")).map((r) => r.holder)).toEqual(["bob"]);
  });

  it("shows in team_status and check_teammate", async () => {
    T = await team(kind, "t", ["alice"]);
    await reserve("alice", ["src/**"], { reason: "api" });
    const st = await callTool(T.as("alice"), "team_status", { team_name: "t" });
    expect(st.text).toMatch(/Reservations:\n {2}src\/\*\* — alice \(exclusive: api; since /);
    const ct = await callTool(T.as(), "check_teammate", { team_name: "t", agent_name: "alice" });
    expect(ct.text).toMatch(/; reserves src\/\*\*\.$/);
    expect(ct.details.reservations).toMatchObject([{ path: "src/**", holder: "alice" }]);
  });
});
