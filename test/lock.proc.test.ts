/** Cross-process locks with real processes: a SIGKILLed holder's lock is recovered; a slow live holder keeps its lock. */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { cleanupTemp, teamWith, world } from "./helpers/fixtures.js";
import { startWorker } from "./helpers/procs.js";
import { readInbox, sendMessage } from "../src/messages.js";
import { withLock, STALE_MS } from "../src/store/lock.js";

afterAll(cleanupTemp);

describe.concurrent("lock held by another process", () => {
  it("a lock left by a SIGKILLed holder is recovered and the next writer succeeds within 10 s", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const inbox = w.as().paths.inbox("t", "dev");
    const holder = startWorker(w.dir, ["hold", inbox, "600000"]);
    await holder.waitFor(/^holding/, 60_000);
    expect(fs.existsSync(inbox + ".lock")).toBe(true);
    holder.child.kill("SIGKILL");
    await holder.done;
    const t0 = Date.now();
    await sendMessage(w.as(), "t", { recipient: "dev", content: "after the crash", summary: "s" });
    const waited = Date.now() - t0;
    expect(waited).toBeLessThan(10_000);
    expect((await readInbox(w.as("dev"), "t")).messages.map((m) => m.content)).toEqual(["after the crash"]);
  }, 60_000);

  it("a live holder, however slow (longer than the stale bound), keeps its lock", async () => {
    const w = world();
    const file = `${w.dir}/slow.json`;
    const holdMs = STALE_MS + 2000;
    const holder = startWorker(w.dir, ["hold", file, String(holdMs)]);
    await holder.waitFor(/^holding/, 60_000);
    const entered = await withLock(file, () => Date.now());
    const released = Number((await holder.waitFor(/^released/)).split(" ")[1]);
    expect(entered).toBeGreaterThanOrEqual(released);
    const r = await holder.done;
    expect(r.code).toBe(0);
    expect(holder.stderr).not.toMatch(/compromised/);
  }, 60_000);
});
