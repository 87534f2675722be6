/** Real processes racing to take over one dead holder's lock: exactly one wins at a time. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";
import { startWorker } from "./helpers/procs.js";
import { STALE_MS } from "../src/store/lock.js";

afterAll(cleanupTemp);

describe("stale lock takeover", () => {
  it("6 processes find the same stale lock: their critical sections never overlap", async () => {
    for (let round = 0; round < 5; round++) {
      const file = path.join(tempDir(), "x.json");
      // A holder died long ago: its lock directory is older than the stale bound.
      fs.mkdirSync(`${file}.lock`);
      const old = new Date(Date.now() - STALE_MS - 5000);
      fs.utimesSync(`${file}.lock`, old, old);
      const ws = Array.from({ length: 6 }, () => startWorker(path.dirname(file), ["hold", file, "150", "--wait"]));
      await Promise.all(ws.map((w) => w.waitFor(/^ready$/, 60_000)));
      for (const w of ws) w.child.stdin!.write("go\n");
      await Promise.all(ws.map((w) => w.done));
      const spans = ws.map((w) => {
        const h = w.lines.find((l) => l.startsWith("holding "));
        const r = w.lines.find((l) => l.startsWith("released "));
        expect(h && r, w.stderr.slice(-2000)).toBeTruthy();
        return [Number(h!.split(" ")[1]), Number(r!.split(" ")[1])] as const;
      }).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0], `round ${round}: section ${i} starts before ${i - 1} ends`).toBeGreaterThanOrEqual(spans[i - 1][1]);
      expect(fs.existsSync(`${file}.lock`)).toBe(false);
      expect(fs.existsSync(`${file}.lock.takeover`)).toBe(false);
    }
  }, 120_000);
});
