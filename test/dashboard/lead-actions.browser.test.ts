/**
 * SLOW (a real pi teammate, a real dashboard process and headless Chromium;
 * about half a minute): a person steers a team from the page. The teammate is
 * a real interactive pi 0.73 in a private tmux server, running the extension
 * in plan mode with the scripted model (docs/testing-with-pi.md); the lead's
 * tasks come from CLI processes.
 *
 * Proves: a plan the teammate submitted shows on the board; approving it on
 * the page changes the task in the store, logs plan.approved with the human
 * as actor, and wakes the teammate (its model gets the approval and answers);
 * a rejection carries the page's feedback to it; reassign and release go
 * through task_update / task_release with the human as actor; "Shut down"
 * stops the teammate's process and removes it from the team, live on the page.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCtx, type Ctx } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import { cli } from "../helpers/fixtures.js";
import { REPO_ROOT, hermeticEnv, killTmuxServer, makeTmp, readScriptLog, rmTmp, startPiInTmux, uniqueSocket, writeScript, type Script, type TmuxPiHandle } from "../support/pi-harness.js";
import { launchChromium } from "./browser.js";
import { startDashboardProc, type DashProc } from "./harness.js";

const EXT = join(REPO_ROOT, "dist", "src", "hosts", "pi-extension.js");
const team = "shop";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | Promise<T>, ms = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let tmp: string;
let browser: Browser;
let pi: TmuxPiHandle | undefined;
const socket = uniqueSocket("dash");
let d: DashProc | undefined;
let lead: Ctx;

beforeAll(async () => { browser = await launchChromium(); }, 60_000);
afterAll(async () => {
  await browser?.close();
  await killTmuxServer(socket);
  await d?.stop();
  await lead?.store.close();
  if (tmp) rmTmp(tmp);
});

describe("a person steers the team from the dashboard", () => {
  it("approves and rejects plans (the real pi teammate wakes and answers), reassigns, releases, shuts the teammate down", { timeout: 180_000 }, async () => {
    tmp = makeTmp("clanker-dash-pi-");
    const scriptFile = join(tmp, "script.json");
    const script: Script = {
      agents: {
        bob: {
          rules: [
            { when: "Task #(\\d+) assigned to you", on: "user", times: 10, reply: [
              { tool: "task_submit_plan", args: { team_name: team, task_id: "${1}", plan: "1. Card form\n2. Luhn check <b>before</b> submit" } },
              { text: "waiting for the lead" },
            ] },
            { when: "Plan for task #(\\d+) approved", on: "user", times: 10, reply: [
              { tool: "send_message", args: { team_name: team, recipient: "team-lead", summary: "Starting #${1}", content: "APPROVAL SEEN for #${1}: starting now" } },
              { text: "started" },
            ] },
            { when: "plan for task #(\\d+) .*was rejected\\. Feedback:\\n([^\\n]*)", on: "user", times: 10, reply: [
              { tool: "send_message", args: { team_name: team, recipient: "team-lead", summary: "Revising #${1}", content: "REJECTION SEEN for #${1}: ${2}" } },
              { text: "revising" },
            ] },
          ],
          default: { text: "ok" },
        },
      },
    };
    writeScript(scriptFile, script);
    const env = hermeticEnv(tmp, { CLANKER_TEST_SCRIPT: scriptFile, CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: "bob", CLANKER_PLAN_MODE_REQUIRED: "1", CLANKER_TEAMS_GREET_WAIT_MS: "300" });
    const dataDir = env.CLANKER_TEAMS_DIR!;
    const storeEnv = { ...process.env, CLANKER_TEAMS_DIR: dataDir, CLANKER_AGENT_NAME: "" };
    lead = makeCtx({ dataDir, actor: "team-lead", env: storeEnv });
    await createTeam(lead, { team_name: team, description: "Card payments" });
    await addMember(lead, team, { name: "bob", role: "teammate", planModeRequired: true, model: "scripted/scripted-1" });
    await addMember(lead, team, { name: "carol", role: "teammate" });

    pi = await startPiInTmux(socket, { version: "0.73", cwd: tmp, env, extensions: [EXT], prompt: "hello" });
    const tmuxPi = pi;
    await until("bob's presence", async () => ["idle", "busy"].includes((await lead.store.getPresence(team, "bob"))?.state ?? ""), 30_000)
      .catch(async (e) => { throw new Error(`${(e as Error).message}; bob's screen:\n${await tmuxPi.capture(100)}`); });
    d = await startDashboardProc({ ...storeEnv, CLANKER_SHUTDOWN_GRACE_MS: "15000" }, [team]);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page: Page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(d.url);
    await page.locator(`#members .member[data-name="bob"] .state-label`, { hasText: /idle|busy/ }).waitFor({ timeout: 30_000 });

    // The lead assigns two tasks from other processes; bob (plan mode) submits a plan for each.
    const created = async (subject: string, owner?: string) => {
      const r = await cli(["call", "task_create", JSON.stringify({ team_name: team, subject, description: "from the CLI", ...(owner ? { owner } : {}) })], { dir: dataDir });
      expect(r.exitCode, r.stderr).toBe(0);
      return JSON.parse(r.stdout).details.task.id as string;
    };
    const card = (id: string) => page.locator(`#board .card[data-id="${id}"]`);
    const t1 = await created("Card form", "bob");
    await card(t1).locator(".badge", { hasText: "plan to review" }).waitFor({ timeout: 30_000 });
    const t2 = await created("Saved cards", "bob");
    await card(t2).locator(".badge", { hasText: "plan to review" }).waitFor({ timeout: 30_000 });
    // The plan, as bob wrote it (HTML in it is text).
    await card(t1).click();
    await page.locator("#task-info .plan pre").waitFor();
    expect(await page.locator("#task-info .plan pre").textContent()).toBe("1. Card form\n2. Luhn check <b>before</b> submit");
    expect(await page.locator("#task-info b").count()).toBe(0);

    // Approve on the page.
    const seqBefore = (await lead.store.readEvents(team)).at(-1)!.seq;
    await page.click(`#task-actions button[data-act="approve"]`);
    await page.locator("#task-result.ok").waitFor();
    expect(await page.textContent("#task-result")).toBe(`Plan for task #${t1} approved; status in_progress.`);
    expect(await lead.store.getTask(team, t1)).toMatchObject({ status: "in_progress", planStatus: "approved", owner: "bob" });
    const approved = (await lead.store.readEvents(team, seqBefore)).find((e) => e.kind === "plan.approved");
    expect(approved).toMatchObject({ actor: "team-lead", data: { id: t1, owner: "bob" } });
    // bob wakes: its model is given the approval and answers; the answer shows on the page, live.
    await until("bob's answer to the approval", async () => (await lead.store.unread(team, "team-lead")).find((m) => m.content === `APPROVAL SEEN for #${t1}: starting now`));
    expect(readScriptLog(scriptFile).some((c) => c.agent === "bob" && c.lastText.includes(`Plan for task #${t1} approved`))).toBe(true);
    await page.click("#task-dialog .close");
    await card(t1).evaluate((el) => el.closest(".col")?.getAttribute("data-status")).then((s) => expect(s).toBe("in_progress"));
    await page.locator("#event-list .ev", { hasText: `Starting #${t1}` }).waitFor({ timeout: 5000 });

    // Reject with feedback on the page: bob gets the feedback.
    await card(t2).click();
    await page.fill("#task-actions textarea", "Store no card numbers: use the <vault> token.");
    await page.click(`#task-actions button[data-act="reject"]`);
    await page.locator("#task-result.ok").waitFor();
    expect(await lead.store.getTask(team, t2)).toMatchObject({ planStatus: "rejected", planFeedback: "Store no card numbers: use the <vault> token." });
    await until("bob's answer to the rejection", async () => (await lead.store.unread(team, "team-lead")).find((m) => m.content === `REJECTION SEEN for #${t2}: Store no card numbers: use the <vault> token.`));
    expect(await page.locator("#task-info section", { hasText: "Plan feedback" }).locator("pre").textContent()).toBe("Store no card numbers: use the <vault> token.");
    await page.click("#task-dialog .close");

    // Reassign an unowned task to carol, then release it.
    const t3 = await created("Receipt email");
    await card(t3).waitFor();
    await card(t3).click();
    await page.selectOption("#task-actions select", "carol");
    await page.click(`#task-actions button[data-act="reassign"]`);
    await page.locator("#task-result.ok").waitFor();
    expect((await lead.store.getTask(team, t3))?.owner).toBe("carol");
    await card(t3).locator(".owner", { hasText: "carol" }).waitFor();
    await page.click(`#task-actions button[data-act="release"]`);
    await page.locator("#task-result.ok", { hasText: "released" }).waitFor();
    expect(await lead.store.getTask(team, t3)).toMatchObject({ status: "pending" });
    expect((await lead.store.getTask(team, t3))?.owner).toBeUndefined();
    const actions = (await lead.store.readEvents(team, seqBefore)).filter((e) => (e.kind === "task.updated" || e.kind === "task.released") && e.data.id === t3);
    expect(actions.map((e) => [e.kind, e.actor])).toEqual([["task.updated", "team-lead"], ["task.released", "team-lead"]]);
    await page.click("#task-dialog .close");

    // Shut bob down from the page: its pi process exits, it leaves the team, the page follows.
    await page.click(`#members .member[data-name="bob"] button.danger`);
    await page.click("#confirm-yes");
    await page.locator("#confirm-result.ok").waitFor({ timeout: 30_000 });
    expect(await page.textContent("#confirm-result")).toMatch(/^bob exited after [\d.]+ s and was removed\./);
    expect(await pi.isAlive()).toBe(false);
    await page.locator(`#members .member[data-name="bob"]`).waitFor({ state: "detached", timeout: 5000 })
      .catch(async (e) => { throw new Error(`${(e as Error).message}\nproblem: ${await page.textContent("#problem")}\npage errors: ${errors.join("\n")}\ndashboard stderr: ${d!.stderr()}`); });
    expect((await lead.store.getTeam(team))?.members.map((m) => m.name)).toEqual(["team-lead", "carol"]);
    const stop = (await lead.store.readEvents(team, seqBefore)).find((e) => e.kind === "teammate.shutdown_requested");
    expect(stop?.actor).toBe("team-lead");
    expect(errors).toEqual([]);
    await context.close();
  });
});
