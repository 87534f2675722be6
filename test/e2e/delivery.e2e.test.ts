/**
 * Inbox delivery into a real pi (0.73 and 0.55, RPC, scripted model):
 * - idle: 20 messages sent one at a time each start one new run, with their
 *   full text, exactly once (bench/delivery.ts measures the latency; here only
 *   a loose bound, the real figure comes from `npm run bench`);
 * - busy/idle race: messages sent at random moments while the model is slow
 *   are each seen exactly once and none is left unread or stranded.
 */
import { afterAll, describe, expect, it } from "vitest";
import { benchDelivery } from "../../dist/bench/delivery.js";
import { addMember, createTeam, sendMessage, unreadPeek } from "../../dist/src/index.js";
import { PI_VERSIONS, startPiRpc } from "../support/pi-harness.js";
import { EXT, callsSeeing, makeWorld, sleep, until, type Script, type World } from "./helpers.js";

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

for (const version of PI_VERSIONS) {
  describe(`delivery in pi ${version}`, { timeout: 120_000 }, () => {
    it("idle: 20 messages, each wakes one new run with its full text, none lost or doubled", async () => {
      const r = await benchDelivery({ messages: 20, version, gapMs: 20 });
      expect(r.n).toBe(20);
      expect(r.p99).toBeLessThan(5000);
      console.log(`delivery pi ${version}: p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms over ${r.n}`);
    });

    it("busy/idle race: 15 messages at random moments while the model is slow, each seen exactly once", async () => {
      const team = "race";
      const script: Script = { rules: [{ when: "RACE-\\d+", on: "user", reply: { text: "noted", delayMs: 120 } }], default: { text: "ok" }, maxCalls: 1000 };
      const w = makeWorld(script, { CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "racer" });
      worlds.push(w);
      const lead = w.ctx();
      await createTeam(lead, { team_name: team });
      await addMember(lead, team, { name: "racer", role: "teammate" });
      const pi = await startPiRpc({ version, cwd: w.tmp, env: w.env, extensions: [EXT] });
      try {
        await pi.run("hello");
        const texts: string[] = [];
        for (let i = 0; i < 15; i++) {
          const t = `RACE-${i} body line\nsecond line ${i}`;
          texts.push(t);
          await sendMessage(lead, team, { recipient: "racer", summary: `race ${i}`, content: t });
          await sleep(Math.floor(Math.random() * 250));
        }
        await until(() => texts.every((t) => w.calls().some((c) => c.lastText.includes(t))), "every race message seen", 60_000,
          () => texts.filter((t) => !w.calls().some((c) => c.lastText.includes(t))));
        await pi.waitIdle({ timeoutMs: 30_000 });
        await sleep(1000);
        for (const t of texts) expect(callsSeeing(w.calls(), t), t).toHaveLength(1);
        // Nothing logically unread (a sender whose spool was rotated mid-send re-appends; readers drop that duplicate by id).
        expect(await unreadPeek(lead, team, "racer")).toEqual([]);
        const st = await pi.waitIdle();
        expect(st.pendingMessageCount).toBe(0);
        expect(pi.events.filter((e) => e.type === "extension_error")).toEqual([]);
      } finally {
        await pi.close();
      }
    });
  });
}
