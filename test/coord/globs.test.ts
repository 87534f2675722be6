/** Reservation paths: normalising what agents type, and deciding when two globs could match one path. */
import { describe, expect, it } from "vitest";
import { matches, normalizePattern, patternsOverlap } from "../../src/domain/globs.js";

const where = { cwd: "/repo/web", root: "/repo" };
const norm = (p: unknown) => normalizePattern("paths[0]", p, where);

describe("normalizePattern", () => {
  it("makes paths relative to the repository root, from the caller's directory", () => {
    expect(norm("src/a.ts")).toBe("web/src/a.ts");
    expect(norm("./src//a.ts")).toBe("web/src/a.ts");
    expect(norm("../api/**")).toBe("api/**");
    expect(norm("/repo/api/x.ts")).toBe("api/x.ts");
    expect(norm("src/")).toBe("web/src/**");
    expect(norm("src/**/")).toBe("web/src/**");
    expect(normalizePattern("p", "**", { cwd: "/repo", root: "/repo" })).toBe("**");
  });

  it("refuses what leaves the repository or cannot be a path, naming the field and the fix", () => {
    expect(() => norm("/etc/passwd")).toThrow(/^paths\[0\]: "\/etc\/passwd" is outside the repository \(\/repo\)/);
    expect(() => norm("../../etc/x")).toThrow(/paths\[0\]: .* is outside the repository/);
    expect(() => norm("src/*/../x")).toThrow(/paths\[0\]: .*"\.\." after a wildcard/);
    expect(() => norm("src\\a.ts")).toThrow(/paths\[0\]: contains "\\"; separate directories with "\/"/);
    expect(() => norm("a\nb")).toThrow(/paths\[0\]: contains a control character/);
    expect(() => norm("")).toThrow(/paths\[0\]: is empty/);
    expect(() => norm(42)).toThrow(/paths\[0\]: must be a path or glob string/);
    expect(() => normalizePattern("paths[1]", ".", { cwd: "/repo", root: "/repo" })).toThrow(/paths\[1\]: "\." is the repository root itself; reserve "\*\*"/);
  });
});

describe("patternsOverlap (some path matches both)", () => {
  const yes: Array<[string, string]> = [
    ["src/a.ts", "src/a.ts"],
    ["src/**", "src/a/b/c.ts"],
    ["src/**", "src"],
    ["**", "anything/at/all"],
    ["**/x.ts", "src/a/x.ts"],
    ["**/x.ts", "x.ts"],
    ["src/*.ts", "src/a.ts"],
    ["src/*.ts", "src/*.js.ts"],
    ["src/a*", "src/*b"],
    ["src/?.ts", "src/a.ts"],
    ["src/*/x.ts", "src/**/x.ts"],
    ["src/**/a/*.ts", "src/b/**"],
    ["**/test/**", "src/test/x.ts"],
    ["a/**/b/**/c", "a/b/c"],
    ["*.md", "README.md"],
  ];
  const no: Array<[string, string]> = [
    ["src/a.ts", "src/b.ts"],
    ["src/**", "docs/**"],
    ["src/*.ts", "src/a/b.ts"],
    ["src/*.ts", "src/a.js"],
    ["src/?.ts", "src/ab.ts"],
    ["*.md", "docs/README.md"],
    ["src/a*", "src/b*"],
    ["src/*/x.ts", "src/x.ts"],
    ["**/x.ts", "src/y.ts"],
    ["a/**/c", "a/b/d"],
    ["src/*a", "src/*b"],
  ];
  it.each(yes)("%s and %s overlap", (a, b) => {
    expect(patternsOverlap(a, b)).toBe(true);
    expect(patternsOverlap(b, a)).toBe(true);
  });
  it.each(no)("%s and %s do not", (a, b) => {
    expect(patternsOverlap(a, b)).toBe(false);
    expect(patternsOverlap(b, a)).toBe(false);
  });
  it("matches concrete paths", () => {
    expect(matches("web/**", "web/src/a.ts")).toBe(true);
    expect(matches("web/*.ts", "web/src/a.ts")).toBe(false);
  });
  it("stays fast on many wildcards", () => {
    const a = Array.from({ length: 40 }, () => "**").join("/") + "/x";
    const b = Array.from({ length: 40 }, () => "*a*").join("/") + "/y";
    const t = Date.now();
    expect(patternsOverlap(a, b)).toBe(false);
    expect(Date.now() - t).toBeLessThan(500);
  });
});
