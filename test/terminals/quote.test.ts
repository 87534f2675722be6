import { existsSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { appleScriptString, shJoin, shQuote, tmuxArg, tmuxLiteral } from "../../src/agents/terminals/quote.js";
import { hostileStrings, makeTmp } from "../fixtures/recorder/helpers.js";

const tmp = makeTmp();
const canary = join(tmp, "CANARY");
const corpus = hostileStrings(canary);
const shells = ["/bin/sh", "dash", "bash"];

describe("shQuote", () => {
  it("leaves plain words alone and quotes the rest", () => {
    expect(shQuote("abc-1.2/x_y")).toBe("abc-1.2/x_y");
    expect(shQuote("")).toBe("''");
    expect(shQuote("a b")).toBe("'a b'");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote("A=B")).toBe("'A=B'"); // never an assignment
    expect(() => shQuote("a\0b")).toThrow(/NUL/);
  });

  for (const shell of shells) {
    it(`round-trips the hostile corpus byte for byte through ${shell} and runs nothing`, async () => {
      const script = `printf '%s\\0' ${shJoin(corpus)}`;
      const { stdout } = await execa(shell, ["-c", script], { stripFinalNewline: false });
      expect(stdout.split("\0").slice(0, -1)).toEqual(corpus);
      expect(existsSync(canary)).toBe(false);
    });
  }
});

describe("appleScriptString", () => {
  it("escapes backslash and double quote", () => {
    expect(appleScriptString(`say "hi" \\ bye`)).toBe(`"say \\"hi\\" \\\\ bye"`);
  });

  it("keeps the literal on one line", () => {
    expect(appleScriptString("a\nb\r\tc")).toBe(`"a\\nb\\r\\tc"`);
  });

  it("splices other control characters in with character id", () => {
    expect(appleScriptString("a\u001bb")).toBe(`("a" & (character id 27) & "b")`);
  });

  it("passes unicode and shell metacharacters through untouched", () => {
    expect(appleScriptString("$(x) `y` 'z' 日本")).toBe(`"$(x) \`y\` 'z' 日本"`);
  });
});

describe("tmux escaping", () => {
  it("escapes a trailing semicolon only", () => {
    expect(tmuxArg("a;")).toBe("a\\;");
    expect(tmuxArg(";")).toBe("\\;");
    expect(tmuxArg("x\\;")).toBe("x\\\\;");
    expect(tmuxArg("a;b")).toBe("a;b");
  });

  it("doubles # for format-expanded arguments", () => {
    expect(tmuxLiteral("#(touch x)")).toBe("##(touch x)");
    expect(tmuxLiteral("#{pane_id};")).toBe("##{pane_id}\\;");
  });
});
