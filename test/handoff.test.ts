import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeAndRead, lineMark, takenBefore } from "../src/store/handoff.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "handoff-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const files = () => {
  const dir = path.join(root, String(n++));
  fs.mkdirSync(dir);
  return { live: path.join(dir, "spool.jsonl"), taken: path.join(dir, "taken.jsonl") };
};
const line = (id: string) => `\n${JSON.stringify({ id, body: "x" })}\n`;
const ids = (text: string) => text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id?: string; closed?: boolean }).filter((v) => !v.closed).map((v) => v.id);

describe("lock-free hand-off (spool / pending events)", () => {
  it("a writer whose line landed before the taker closed the file: taken, exactly once", () => {
    const f = files();
    fs.writeFileSync(f.live, line("a"));
    const fd = fs.openSync(f.live, "a+");
    fs.renameSync(f.live, f.taken); // the taker renames between the writer's open and its write
    fs.writeSync(fd, line("b"));
    expect(takenBefore(fd, "b")).toBe(true); // not closed yet: the taker will read it
    const got = closeAndRead(f.taken)!;
    expect(ids(got.before)).toEqual(["a", "b"]);
    expect(takenBefore(fd, "b")).toBe(true); // and still after the close
    fs.closeSync(fd);
  });

  it("a writer whose line landed after the close: not taken, so it must write again", () => {
    const f = files();
    fs.writeFileSync(f.live, line("a"));
    const fd = fs.openSync(f.live, "a+");
    fs.renameSync(f.live, f.taken);
    const got = closeAndRead(f.taken)!;
    fs.writeSync(fd, line("late"));
    expect(takenBefore(fd, "late")).toBe(false);
    expect(ids(got.before)).toEqual(["a"]);
    // a second close (a later taker of a leftover) keeps the first cut and reports the whole text
    const again = closeAndRead(f.taken)!;
    expect(ids(again.before)).toEqual(["a"]);
    expect(ids(again.text)).toEqual(["a", "late"]);
    fs.closeSync(fd);
  });

  it("ids that look alike do not confuse the mark", () => {
    const f = files();
    fs.writeFileSync(f.taken, line("ab"));
    closeAndRead(f.taken);
    const fd = fs.openSync(f.taken, "a+");
    fs.writeSync(fd, line("a"));
    expect(takenBefore(fd, "a")).toBe(false);
    expect(takenBefore(fd, "ab")).toBe(true);
    expect(lineMark('q"x')).toBe('\n{"id":"q\\"x",');
    expect(takenBefore(fd, "absent")).toBe(false); // a line that is not there was not taken
    fs.closeSync(fd);
  });

  it("closing a missing file creates nothing", () => {
    const f = files();
    expect(closeAndRead(f.taken)).toBeUndefined();
    expect(fs.existsSync(f.taken)).toBe(false);
  });
});
