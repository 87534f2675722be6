/**
 * Teammates whose model fails, with real pi processes (0.73 and 0.55) in real tmux. A lead pi spawns:
 * - "flaky" (scripted model): its first calls fail with 401, then a 429 that pi retries, then it works,
 *   then 401 again;
 * - "nokey": an anthropic model with no key in the environment (pi fails before any model call);
 * - "thrower": a provider that throws (pi 0.73 reports a failed call; pi 0.55 crashes).
 * Checked in the files: presence state "error" with the reason, the lead told once per failure (the
 * greeting carries the first and never says "working"; retries and the same failure again say nothing;
 * after a recovery a failure is news again), check_teammate and `clanker-teams status` show it, a
 * recovered teammate is idle again, and process_shutdown_approved does not wait out its grace period.
 */
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { readHistory, sendMessage } from "../../dist/src/index.js";
import { callTool } from "../../dist/src/tools/table.js";
import { PI_VERSIONS, agentCmdEnv, killTmuxServer, uniqueSocket, writeAgentSettings } from "../support/pi-harness.js";
import { EXT, REPO_ROOT, makeWorld, sleep, startPiInOwnTmux, until, type Script, type World } from "./helpers.js";

const BROKEN_PROVIDER = join(REPO_ROOT, "test", "support", "broken-provider.ts");
const AUTH_1 = '401 {"type":"authentication_error","message":"invalid x-api-key","request_id":"req_aaa111"}';
const AUTH_2 = '401 {"type":"authentication_error","message":"invalid x-api-key","request_id":"req_bbb222"}';
const GRACE_MS = 20_000;

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

for (const version of PI_VERSIONS) {
  describe(`teammates whose model fails, pi ${version}`, { timeout: 200_000 }, () => {
    it("error state with the reason, one message per failure, check_teammate and status show it, recovery, prompt shutdown", async () => {
      const T = `fail${version.replace(".", "")}`;
      const spawn = (name: string, model?: string) => ({ tool: "spawn_teammate", args: { team_name: T, name, prompt: "Say hello.", cwd: "${env.E2E_CWD}", ...(model ? { model } : {}) } });
      const script: Script = {
        agents: {
          "team-lead": {
            rules: [{
              when: "^start the team", on: "user",
              reply: [{ tool: "team_create", args: { team_name: T } }, spawn("flaky"), spawn("nokey", "anthropic/claude-sonnet-4-5"), spawn("thrower", "broken/throws"), { text: "lead spawned three" }],
            }],
            default: { text: "lead idle" },
          },
          flaky: {
            rules: [
              { when: "PING-RECOVER", on: "user", reply: { text: "flaky works again" } },
              { when: "PING-RATE", on: "user", reply: { error: "429 rate_limit_error: too many requests" } },
              { when: "PING-SAME|PING-AUTH-AGAIN", on: "user", reply: { error: AUTH_2 } },
              { when: "gives you this assignment", on: "user", reply: { error: AUTH_1 } },
            ],
            default: { text: "flaky idle" },
          },
          "*": { default: { text: "ok" } },
        },
      };
      const w = makeWorld(script, { CLANKER_TEAMS_AGENT_CMD: agentCmdEnv(version), CLANKER_SHUTDOWN_GRACE_MS: String(GRACE_MS), CLANKER_TEAMS_HEARTBEAT_MS: "500" });
      worlds.push(w);
      w.env.E2E_CWD = w.tmp;
      // Teammates load the scripted and the broken provider and our extension from settings; pi retries a 429 twice, quickly.
      writeAgentSettings(w.tmp, [EXT, BROKEN_PROVIDER], { retry: { enabled: true, maxRetries: 2, baseDelayMs: 200 } });
      const lead = w.ctx();
      /** Every message the lead got from `from`, read or not, oldest first. */
      const mailFrom = async (from: string) => (await readHistory(lead, T, "team-lead", { limit: 10_000 })).messages.filter((m) => m.from === from);
      const check = async (name: string) => callTool(lead, "check_teammate", { team_name: T, agent_name: name });
      const calls = (text: string) => w.calls("flaky").filter((c) => c.lastText.includes(text));
      const socket = uniqueSocket("fail");
      try {
        await startPiInOwnTmux(socket, { version, cwd: w.tmp, env: w.env, extensions: [EXT], prompt: "start the team" });
        await until(() => w.config(T)?.members?.filter((m: any) => m.pane).length === 3, "three teammates with panes", 90_000,
          () => w.calls().map((c) => `${c.agent}: ${c.lastText.slice(0, 80)} ${c.error ?? ""}`));

        // ---- flaky: its first call fails with 401 ----
        await until(() => w.presence(T, "flaky")?.state === "error", "flaky in state error", 60_000, () => w.presence(T, "flaky"));
        expect(w.presence(T, "flaky").error).toBe(AUTH_1);
        const greeting = await until(async () => (await mailFrom("flaky"))[0], "flaky's greeting");
        expect(greeting).toMatchObject({ kind: "teammate_started", summary: "flaky started; its model fails" });
        expect(greeting.content).toContain(`cannot work: its model call failed: ${AUTH_1}`);
        expect(greeting.content).not.toMatch(/working/);
        const c1 = await check("flaky");
        expect(c1.details).toMatchObject({ running: true, state: "error", processAlive: true });
        expect(c1.text).toBe(`flaky: running, error (its model fails: ${AUTH_1}); 0 unread.`);
        // the CLI's status shows it too
        const status = await execa(process.execPath, [join(REPO_ROOT, "bin", "clanker-teams.js"), "status", T, "--json"], { env: w.env, extendEnv: false });
        expect(JSON.parse(status.stdout).members.find((m: any) => m.name === "flaky")).toMatchObject({ state: "error", alive: true, detail: `its model fails: ${AUTH_1}` });
        const table = await execa(process.execPath, [join(REPO_ROOT, "bin", "clanker-teams.js"), "status", T], { env: { ...w.env, NO_COLOR: "1" }, extendEnv: false });
        expect(table.stdout).toMatch(/^flaky\s+teammate\s+error\s/m);

        // the same failure again (another request id): no new message
        await sendMessage(lead, T, { recipient: "flaky", summary: "ping", content: "PING-SAME" });
        await until(() => calls("PING-SAME").length, "flaky's model sees PING-SAME");
        await sleep(1500);
        expect(await mailFrom("flaky")).toHaveLength(1);

        // a rate limit: pi retries it twice; the lead hears of it once
        await sendMessage(lead, T, { recipient: "flaky", summary: "ping", content: "PING-RATE" });
        await until(() => calls("PING-RATE").length >= 3, "pi's two retries of the 429", 30_000, () => calls("PING-RATE").length);
        await until(() => w.presence(T, "flaky")?.error?.startsWith("429"), "presence says 429");
        await sleep(1500);
        expect(calls("PING-RATE")).toHaveLength(3);
        const afterRate = await mailFrom("flaky");
        expect(afterRate).toHaveLength(2);
        expect(afterRate[1]).toMatchObject({ kind: "model_error", summary: "flaky's model fails" });
        expect(afterRate[1].content).toContain("its model call failed: 429 rate_limit_error: too many requests");

        // it recovers: idle again, no error; check_teammate says so
        await sendMessage(lead, T, { recipient: "flaky", summary: "ping", content: "PING-RECOVER" });
        await until(() => w.presence(T, "flaky")?.state === "idle" && calls("PING-RECOVER").length, "flaky idle after recovering", 30_000, () => w.presence(T, "flaky"));
        expect(w.presence(T, "flaky").error).toBeUndefined();
        expect((await check("flaky")).text).toMatch(/^flaky: running, idle \(heartbeat \d+ s ago\); 0 unread\.\nUsage: \d+ tokens, \$\d+\.\d{4} over \d+ model call\(s\)\.$/);

        // after a recovery the same failure is news again
        await sendMessage(lead, T, { recipient: "flaky", summary: "ping", content: "PING-AUTH-AGAIN" });
        await until(async () => (await mailFrom("flaky")).length === 3, "a third message from flaky", 30_000, async () => (await mailFrom("flaky")).map((m) => m.summary));
        expect((await mailFrom("flaky"))[2]).toMatchObject({ kind: "model_error" });
        expect((await mailFrom("flaky"))[2].content).toContain(AUTH_2);
        expect(w.presence(T, "flaky")).toMatchObject({ state: "error", error: AUTH_2 });

        // ---- nokey: pi refuses the prompt before any model call ----
        await until(() => w.presence(T, "nokey")?.state === "error", "nokey in state error", 60_000, () => w.presence(T, "nokey"));
        expect(w.presence(T, "nokey").error).toMatch(/^No API key found for anthropic/);
        const nk = await until(async () => (await mailFrom("nokey"))[0], "nokey's greeting");
        expect(nk.content).toMatch(/^nokey is up \(pid \d+, model anthropic\/claude-sonnet-4-5\) but cannot work: its model call failed: No API key found for anthropic/);
        // its mail waits (it cannot read it), and check_teammate says why
        await sendMessage(lead, T, { recipient: "nokey", summary: "ping", content: "PING-NOKEY" });
        await sleep(1000);
        const ck = await check("nokey");
        expect(ck.details).toMatchObject({ running: true, state: "error", unread: 1 });
        expect(ck.text).toMatch(/^nokey: running, error \(its model fails: No API key found for anthropic.*\); 1 unread\.$/);
        expect(await mailFrom("nokey")).toHaveLength(1);

        // ---- thrower: the provider throws ----
        if (version === "0.73") {
          await until(() => w.presence(T, "thrower")?.state === "error", "thrower in state error", 60_000, () => w.presence(T, "thrower"));
          expect(w.presence(T, "thrower").error).toBe("401 Unauthorized: invalid x-api-key (the provider threw)");
          const tg = await until(async () => (await mailFrom("thrower"))[0], "thrower's greeting");
          expect(tg.content).toContain("cannot work: its model call failed: 401 Unauthorized: invalid x-api-key (the provider threw)");
          expect((await check("thrower")).details).toMatchObject({ running: true, state: "error" });
        } else {
          // pi 0.55 dies of it: the presence says why, so check_teammate does not call it a clean exit
          await until(() => w.presence(T, "thrower")?.state === "stopped", "thrower stopped", 60_000, () => w.presence(T, "thrower"));
          expect(w.presence(T, "thrower").error).toMatch(/^pi crashed \(exit code \d+\): 401 Unauthorized: invalid x-api-key \(the provider threw\)$/);
          const tc = await check("thrower");
          expect(tc.details).toMatchObject({ running: false, state: "stopped" });
          expect(tc.text).toMatch(/^thrower: not running, stopped \(exited: pi crashed .*the provider threw\)/);
        }
        for (const name of ["flaky", "nokey", "thrower"]) expect((await mailFrom(name)).filter((m) => /working/.test(m.content)), name).toEqual([]);

        // ---- shutdown: a teammate in state error that can exit does so at once ----
        for (const name of ["nokey", "flaky"]) {
          const r = await callTool(lead, "process_shutdown_approved", { team_name: T, agent_name: name });
          expect(r.details, name).toMatchObject({ exited: true, killed: false });
          expect(r.details.waitedMs, name).toBeLessThan(8000);
        }
      } finally {
        await killTmuxServer(socket);
      }
    });
  });
}
