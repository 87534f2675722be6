import { describe, expect, it } from "vitest";
import { TerminalError } from "../../src/agents/terminals/errors.js";
import { cleanTitle, validateSpec } from "../../src/agents/terminals/spec.js";

const ok = { argv: ["pi", "--model", "x"], cwd: "/tmp", env: { A: "1" }, title: "alice" };

describe("validateSpec", () => {
  it("accepts a normal spec", () => {
    expect(() => validateSpec(ok)).not.toThrow();
  });

  const cases: Array<[string, object, RegExp]> = [
    ["empty argv", { argv: [] }, /argv must name a program/],
    ["empty program", { argv: [""] }, /argv\[0\] is empty/],
    ["program starting with -", { argv: ["-x"] }, /starts with "-"/],
    ["NUL in an argument", { argv: ["pi", "a\0b"] }, /argv\[1\] contains a NUL/],
    ["relative cwd", { cwd: "rel/dir" }, /cwd must be an absolute path/],
    ["bad env name", { env: { "A-B": "1" } }, /env key "A-B" is not a valid variable name/],
    ["env name with =", { env: { "A=B": "1" } }, /not a valid variable name/],
    ["NUL in env", { env: { A: "\0" } }, /env.A contains a NUL/],
  ];
  for (const [what, patch, message] of cases) {
    it(`rejects ${what} with a clear TerminalError`, () => {
      try {
        validateSpec({ ...ok, ...patch });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(TerminalError);
        expect((err as TerminalError).code).toBe("INVALID_SPAWN_SPEC");
        expect((err as Error).message).toMatch(message);
      }
    });
  }
});

describe("cleanTitle", () => {
  it("shows control and invisible characters as escapes, trims, cuts, and keeps the rest", () => {
    expect(cleanTitle("a\nb\u001b]2;x\u0007 'q' $(y)")).toBe(String.raw`a\nb\x1b]2;x\x07 'q' $(y)`);
    expect(cleanTitle("bob\u202eevil\u200b\u0085\r")).toBe(String.raw`bob\u202eevil\u200b\x85`);
    expect(cleanTitle("\n")).toBe("teammate");
    expect(cleanTitle("x".repeat(120))).toBe("x".repeat(99) + "…");
    // eslint-disable-next-line no-control-regex
    expect(cleanTitle("\x1b]0;\x9b\u2066".repeat(20))).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2066]/);
  });
});
