/** The PostgreSQL connection rules that need no server: how long a transaction may wait for its client, which errors are retried. */
import { describe, expect, it } from "vitest";
import { idleTxMs, transient } from "../../src/store/pg/conn.js";

describe("pg connection rules", () => {
  it("a transaction may wait for its client half the lease, between 1 and 10 s", () => {
    expect(idleTxMs({})).toBe(10_000); // default lease 30 s
    expect(idleTxMs({ CLANKER_TEAMS_LEASE_MS: "2000" })).toBe(1000);
    expect(idleTxMs({ CLANKER_TEAMS_LEASE_MS: "8000" })).toBe(4000);
    expect(idleTxMs({ CLANKER_TEAMS_LEASE_MS: "1000" })).toBe(1000);
    expect(idleTxMs({ CLANKER_TEAMS_LEASE_MS: "junk" })).toBe(10_000);
  });

  it("a session the server ended for idling in a transaction is retried like a lost connection", () => {
    const err = (code: string) => Object.assign(new Error("x"), { code, severity: "FATAL" });
    expect(transient(err("25P03"))).toBe(true);
    expect(transient(err("08006"))).toBe(true);
    expect(transient(err("23505"))).toBe(false);
  });
});
