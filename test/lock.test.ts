import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { withLock, STALE_MS } from "../src/store/lock.js";
import { cleanupTemp, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTemp);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("withLock", () => {
  it("queues concurrent callers in one process: critical sections never overlap", async () => {
    const f = path.join(tempDir(), "x.json");
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => withLock(f, async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      await sleep(1);
      order.push(i);
      inside--;
    })));
    expect(maxInside).toBe(1);
    expect(order).toEqual([...Array(20).keys()]); // FIFO
  });

  it("holds a <file>.lock directory while inside and removes it after", async () => {
    const f = path.join(tempDir(), "x.json");
    await withLock(f, () => expect(fs.existsSync(f + ".lock")).toBe(true));
    expect(fs.existsSync(f + ".lock")).toBe(false);
  });

  it("releases the lock when the section throws, and the error propagates", async () => {
    const f = path.join(tempDir(), "x.json");
    await expect(withLock(f, () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(fs.existsSync(f + ".lock")).toBe(false);
    expect(await withLock(f, () => 7)).toBe(7);
  });

  it("different files do not wait for each other", async () => {
    const d = tempDir();
    let aInside = false;
    let sawAInsideFromB = false;
    await Promise.all([
      withLock(path.join(d, "a.json"), async () => { aInside = true; await sleep(50); aInside = false; }),
      (async () => { await sleep(10); await withLock(path.join(d, "b.json"), () => { sawAInsideFromB = aInside; }); })(),
    ]);
    expect(sawAInsideFromB).toBe(true);
  });

  it("takes over a lock directory that has not been refreshed for longer than the stale bound", async () => {
    const f = path.join(tempDir(), "x.json");
    fs.mkdirSync(f + ".lock");
    const old = (Date.now() - STALE_MS * 3) / 1000;
    fs.utimesSync(f + ".lock", old, old);
    const t0 = Date.now();
    await withLock(f, () => undefined);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("an abandoned fresh lock is recovered once it turns stale (within 10 s)", async () => {
    const f = path.join(tempDir(), "x.json");
    fs.mkdirSync(f + ".lock");
    const t0 = Date.now();
    await withLock(f, () => undefined);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(STALE_MS - 1500);
    expect(waited).toBeLessThan(10_000);
  }, 15_000);

  it("re-creates its directory when another process removed it", async () => {
    const d = path.join(tempDir(), "sub");
    const f = path.join(d, "x.json");
    await withLock(f, () => undefined);
    fs.rmSync(d, { recursive: true });
    expect(await withLock(f, () => "ok")).toBe("ok");
  });
});
