/**
 * SLOW (a private PostgreSQL, real processes and headless Chromium): the
 * dashboard on the PostgreSQL store, through the same store interface. Agents
 * in processes of their own write to the database; the page shows their
 * tasks, gets a message within 1 s (LISTEN/NOTIFY behind store.watch), and a
 * plan approved on the page changes the task in the database and reaches the
 * teammate's process, which is watching its inbox. 401 without the token.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCtx, type Ctx } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import { freshDb } from "../helpers/pg.js";
import type { Worker } from "../helpers/procs.js";
import { launchChromium } from "./browser.js";
import { agentCall, startAgent, startDashboardProc, stopAgent, type DashProc } from "./harness.js";

const team = "pgteam";
let browser: Browser;
let db: Awaited<ReturnType<typeof freshDb>>;
let lead: Ctx;
let d: DashProc | undefined;
const agents: Worker[] = [];

beforeAll(async () => {
  db = await freshDb("dashboard");
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const a of agents) await stopAgent(a);
  await d?.stop();
  await browser?.close();
  await lead?.store.close();
  await db?.drop();
});

describe("dashboard on PostgreSQL, in Chromium", () => {
  it("shows agents' tasks, a message within 1 s, and a plan approved on the page reaches the teammate's process", { timeout: 120_000 }, async () => {
    const env = { ...process.env, CLANKER_TEAMS_DB: db.url, CLANKER_AGENT_NAME: "" };
    lead = makeCtx({ db: db.url, actor: "team-lead", env });
    expect(lead.store.kind).toBe("postgres");
    await createTeam(lead, { team_name: team, description: "On PostgreSQL" });
    await addMember(lead, team, { name: "alice", role: "teammate" });
    await addMember(lead, team, { name: "bob", role: "teammate" });
    const alice = startAgent(env, team, "alice", "busy");
    const bob = startAgent(env, team, "bob", "idle");
    agents.push(alice, bob);
    await Promise.all([alice.ready, bob.ready]);
    const t1 = (await agentCall(alice, "task_create", { team_name: team, subject: "Index the orders table", description: "btree on (customer, created)" })).details.task;
    const t2 = (await agentCall(bob, "task_create", { team_name: team, subject: "Migrate <old> rows", description: "batch of 10k", blocked_by: [t1.id] })).details.task;
    await agentCall(alice, "task_claim", { team_name: team, task_id: t1.id });
    await agentCall(alice, "task_submit_plan", { team_name: team, task_id: t1.id, plan: "1. CREATE INDEX CONCURRENTLY\n2. ANALYZE" });

    d = await startDashboardProc(env, [team]);
    expect((await fetch(`${d.origin}/api/teams`)).status).toBe(401);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(d.url);
    const card = (id: string) => page.locator(`#board .card[data-id="${id}"]`);
    await card(t2.id).waitFor();
    expect(await card(t1.id).locator(".badge").first().textContent()).toBe("plan to review");
    expect(await card(t2.id).locator(".subject").textContent()).toBe("Migrate <old> rows");
    expect(await card(t2.id).locator(".badge.blocked").textContent()).toBe(`blocked by #${t1.id}`);
    expect(await page.locator(`#members .member[data-name="alice"] .state-label`).textContent()).toBe("busy");

    // A message by another process, on the open board's event log and in the mail view, within 1 s.
    await page.click(`#members .member[data-name="team-lead"] a.button`);
    await page.locator("#mail-threads h2").waitFor();
    await agentCall(bob, "send_message", { team_name: team, recipient: "team-lead", summary: "PG-PING", content: "ping over <b>postgres</b>" });
    const sent = Date.now();
    await page.locator(".msg", { hasText: "PG-PING" }).waitFor({ timeout: 5000 });
    const ms = Date.now() - sent;
    expect(ms, `message appeared ${ms} ms after it was sent`).toBeLessThan(1000);
    expect(await page.locator(".msg", { hasText: "PG-PING" }).locator(".content").textContent()).toBe("ping over <b>postgres</b>");

    // Approve alice's plan on the page: the database has it, alice's process gets the news.
    await page.click(`.tabs a[data-view="board"]`);
    await card(t1.id).click();
    await page.click(`#task-actions button[data-act="approve"]`);
    await page.locator("#task-result.ok").waitFor();
    expect(await lead.store.getTask(team, t1.id)).toMatchObject({ status: "in_progress", planStatus: "approved" });
    const approved = (await lead.store.readEvents(team)).filter((e) => e.kind === "plan.approved");
    expect(approved.map((e) => e.actor)).toEqual(["team-lead"]);
    const news = JSON.parse((await alice.waitFor(/^mail .*plan_approved/, 5000)).slice(5));
    expect(news).toMatchObject({ from: "team-lead", to: "alice", kind: "plan_approved" });
    await page.click("#task-dialog .close");
    await card(t1.id).locator(".badge", { hasText: "plan approved" }).waitFor({ timeout: 3000 });
    expect(errors).toEqual([]);
    await context.close();
  });
});
