import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { appendText, ensureDir, parseJsonl, readJson, readJsonCached, readText, removeTree, writeFileAtomic, writeJson } from "../src/store/json-file.js";
import { TeamsError } from "../src/errors.js";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

describe("readJsonCached", () => {
  it("validates each version of the file once, returns a fresh object every time, and sees every change", () => {
    const d = tempDir();
    const f = path.join(d, "c.json");
    let checks = 0;
    const check = (v: unknown) => { checks++; if (typeof (v as { n?: unknown }).n !== "number") throw new Error("n must be a number"); return v as { n: number }; };
    expect(readJsonCached(f, check)).toBeUndefined();
    writeJson(f, { n: 1 });
    const a = readJsonCached(f, check)!;
    a.n = 99; // a caller changing its copy changes nothing for the next one
    expect(readJsonCached(f, check)).toEqual({ n: 1 });
    expect(checks).toBe(1);
    writeJson(f, { n: 2 }); // atomic rewrite, same size
    expect(readJsonCached(f, check)).toEqual({ n: 2 });
    fs.writeFileSync(f, JSON.stringify({ n: 3 }, null, 2) + "\n"); // in place, same size (an editor)
    expect(readJsonCached(f, check)).toEqual({ n: 3 });
    expect(checks).toBe(3);
    fs.writeFileSync(f, '{"n": "x"}');
    expect(() => readJsonCached(f, check)).toThrow(TeamsError);
    expect(fs.existsSync(f)).toBe(false); // moved aside, not overwritten
    expect(readJsonCached(f, check)).toBeUndefined();
  });
});

describe("writeJson / readJson", () => {
  it("round-trips and leaves no temp file behind", () => {
    const d = tempDir();
    const f = path.join(d, "sub", "a.json");
    writeJson(f, { a: 1 });
    writeJson(f, { a: 2, s: "quote\" and ünïcode" });
    expect(readJson(f)).toEqual({ a: 2, s: "quote\" and ünïcode" });
    expect(fs.readdirSync(path.dirname(f))).toEqual(["a.json"]);
  });

  it("a failed write leaves the old file intact and no temp file", () => {
    const d = tempDir();
    const f = path.join(d, "a.json");
    writeJson(f, { v: "old" });
    fs.mkdirSync(path.join(d, "blocker"));
    // Renaming onto a non-empty directory fails: the write must be reported and the temp removed.
    fs.writeFileSync(path.join(d, "blocker", "x"), "");
    expect(() => writeFileAtomic(path.join(d, "blocker"), "{}")).toThrow(TeamsError);
    expect(fs.readdirSync(d).sort()).toEqual(["a.json", "blocker"]);
    expect(readJson(f)).toEqual({ v: "old" });
  });

  it("files are 0600 and directories 0700", () => {
    const d = tempDir();
    const f = path.join(d, "x", "y", "z.json");
    writeJson(f, {});
    appendText(path.join(d, "x", "log.jsonl"), "{}\n");
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(d, "x", "log.jsonl")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(d, "x")).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(d, "x", "y")).mode & 0o777).toBe(0o700);
  });

  it("missing file reads as undefined", () => {
    expect(readJson(path.join(tempDir(), "nope.json"))).toBeUndefined();
    expect(readText(path.join(tempDir(), "nope.json"))).toBeUndefined();
  });

  it("corrupt JSON is reported with its path, moved aside with the original bytes, and the next write works", () => {
    const d = tempDir();
    const f = path.join(d, "c.json");
    const bytes = '{"messages": [ {"id": "x"  <<torn';
    fs.writeFileSync(f, bytes);
    let err: TeamsError | undefined;
    try { readJson(f); } catch (e) { err = e as TeamsError; }
    expect(err?.code).toBe("CORRUPT");
    expect(err?.message).toContain(f);
    const aside = err?.details?.movedTo as string;
    expect(err?.message).toContain(aside);
    expect(fs.readFileSync(aside, "utf8")).toBe(bytes);
    expect(fs.existsSync(f)).toBe(false);
    writeJson(f, { ok: true });
    expect(readJson(f)).toEqual({ ok: true });
  });

  it("a file failing its schema check is moved aside too", () => {
    const d = tempDir();
    const f = path.join(d, "s.json");
    fs.writeFileSync(f, '{"wrong": 1}');
    expect(() => readJson(f, (v) => { if (!(v as { ok?: boolean }).ok) throw new Error("ok: missing"); return v; })).toThrow(/ok: missing/);
    expect(fs.readdirSync(d).some((n) => n.startsWith("s.json.corrupt-"))).toBe(true);
  });
});

describe("appendText / parseJsonl", () => {
  it("only complete lines count; torn lines are skipped, not fatal", () => {
    expect(parseJsonl('{"a":1}\n{"a":2}\n{"a":')).toEqual({ items: [{ a: 1 }, { a: 2 }], bad: 0, end: 16 });
    expect(parseJsonl('{"a":1}\ngarbage\n\n{"a":3}\n')).toEqual({ items: [{ a: 1 }, { a: 3 }], bad: 1, end: 25 });
  });
  it("appends", () => {
    const f = path.join(tempDir(), "l.jsonl");
    appendText(f, '{"a":1}\n');
    appendText(f, '{"a":2}\n', { sync: true });
    expect(parseJsonl(fs.readFileSync(f, "utf8")).items).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe("directory cache", () => {
  it("a directory removed behind the cache's back (another process deleted it) is re-created on the next write", () => {
    const d = tempDir();
    const sub = path.join(d, "gone");
    ensureDir(sub);
    fs.rmSync(sub, { recursive: true });
    writeJson(path.join(sub, "a.json"), { a: 1 });
    expect(readJson(path.join(sub, "a.json"))).toEqual({ a: 1 });
    fs.rmSync(sub, { recursive: true });
    appendText(path.join(sub, "l.jsonl"), "x\n");
    expect(fs.readFileSync(path.join(sub, "l.jsonl"), "utf8")).toBe("x\n");
  });
  it("removeTree forgets the tree", () => {
    const d = tempDir();
    ensureDir(path.join(d, "t", "u"));
    removeTree(path.join(d, "t"));
    writeJson(path.join(d, "t", "u", "a.json"), 1);
    expect(readJson(path.join(d, "t", "u", "a.json"))).toBe(1);
  });
});
