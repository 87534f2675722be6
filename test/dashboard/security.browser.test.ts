/**
 * SLOW (a real dashboard process and headless Chromium): the dashboard's
 * door. Every route answers 401 without the token; the token becomes an
 * HttpOnly SameSite=Strict cookie and leaves the address; a POST without the
 * CSRF token, from another origin, or for a tool the page does not offer is
 * refused and changes nothing; no response carries a CORS header, so a page
 * of another origin in the same browser can neither read the dashboard nor
 * act through it; a request naming another host (DNS rebinding) is refused;
 * the page cannot turn a string into HTML (Trusted Types).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCtx, type Ctx } from "../../src/context.js";
import { addMember, createTeam } from "../../src/domain/teams.js";
import { cleanupTemp, tempDir } from "../helpers/fixtures.js";
import { launchChromium } from "./browser.js";
import { startDashboardProc, type DashProc } from "./harness.js";

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One raw HTTP request (node:http: every header as given, Host included). */
function request(origin: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}${path}`, { method, headers }, (res) => {
      let data = "";
      res.on("data", (c: Buffer) => { data += c.toString(); if (res.headers["content-type"]?.startsWith("text/event-stream")) res.destroy(); });
      res.on("close", () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
      res.on("error", () => undefined);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const team = "sec";
let browser: Browser;
let d: DashProc;
let lead: Ctx;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  const dir = tempDir("clanker-dash-sec-");
  const env = { ...process.env, CLANKER_TEAMS_DIR: dir, CLANKER_AGENT_NAME: "" };
  lead = makeCtx({ dataDir: dir, actor: "team-lead", env });
  await createTeam(lead, { team_name: team });
  await addMember(lead, team, { name: "alice", role: "teammate" });
  d = await startDashboardProc(env, [team]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await d?.stop();
  await lead?.store.close();
  cleanupTemp();
});

const eventCount = async () => (await lead.store.readEvents(team)).length;

describe("dashboard security", () => {
  it("answers 401 to every route without the token, and turns the token into an HttpOnly SameSite=Strict cookie", async () => {
    const token = new URL(d.url).searchParams.get("token")!;
    const routes: Array<[string, string]> = [
      ["GET", "/"], ["GET", "/?team=sec"], ["GET", "/app.js"], ["GET", "/app.css"], ["GET", "/api/teams"], ["GET", `/api/stream?team=${team}`],
      ["GET", `/api/mail?team=${team}&agent=alice`], ["GET", `/api/task?team=${team}&id=1`], ["GET", `/api/events?team=${team}&before=5`], ["POST", "/api/action"], ["GET", "/nope"],
    ];
    for (const [method, path] of routes) {
      const r = await request(d.origin, method, path, { "Content-Type": "application/json" }, method === "POST" ? "{}" : undefined);
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body).toMatch(/^401 Unauthorized/);
      expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    }
    // A wrong token, or a cookie of another dashboard's token, is refused alike.
    expect((await request(d.origin, "GET", `/?token=${token.slice(0, -1)}x`)).status).toBe(401);
    expect((await request(d.origin, "GET", "/api/teams", { Cookie: `clanker_dash_${d.origin.split(":").pop()}=${token.slice(0, -1)}x` })).status).toBe(401);

    const first = await request(d.origin, "GET", `/?token=${token}&team=${team}`);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe(`/?team=${team}`); // the token leaves the address bar at once
    const set = first.headers["set-cookie"]![0]!;
    expect(set).toMatch(/; HttpOnly/);
    expect(set).toMatch(/; SameSite=Strict/);
    cookie = set.split(";")[0]!;
    const page = await request(d.origin, "GET", `/?team=${team}`, { Cookie: cookie });
    expect(page.status).toBe(200);
    csrf = /<meta name="csrf-token" content="([\w-]+)">/.exec(page.body)![1]!;
    expect(csrf).not.toBe(token);
    const csp = page.headers["content-security-policy"] as string;
    for (const rule of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'", "trusted-types 'none'"]) expect(csp).toContain(rule);
    expect(page.headers["x-frame-options"]).toBe("DENY");
    expect(page.headers["access-control-allow-origin"]).toBeUndefined();

    // In the browser: the cookie is HttpOnly and Strict; scripts cannot read it.
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(d.url);
    await p.waitForSelector("#members .member");
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false, value: token });
    expect(await p.evaluate(() => document.cookie)).toBe("");
    expect(new URL(p.url()).searchParams.has("token")).toBe(false);
    // Trusted Types with no policy: a string can no longer become HTML on this page.
    expect(await p.evaluate(() => { try { document.body.innerHTML = "<b>x</b>"; return "assigned"; } catch (e) { return (e as Error).name; } })).toBe("TypeError");
    await context.close();
  });

  it("refuses a POST without the CSRF token, from another origin, or for a tool the page does not offer; nothing changes", async () => {
    const before = await eventCount();
    const send = JSON.stringify({ team, tool: "send_message", args: { recipient: "alice", summary: "hi", content: "hello" } });
    const json = { "Content-Type": "application/json", Cookie: cookie };
    const noCsrf = await request(d.origin, "POST", "/api/action", json, send);
    expect(noCsrf.status).toBe(403);
    expect(JSON.parse(noCsrf.body).error).toMatch(/CSRF/);
    expect((await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": "x".repeat(32) }, send)).status).toBe(403);
    expect((await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": csrf, Origin: "http://evil.example" }, send)).status).toBe(403);
    expect((await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site" }, send)).status).toBe(403);
    expect((await request(d.origin, "POST", "/api/action", { Cookie: cookie, "Content-Type": "text/plain", "X-CSRF-Token": csrf }, send)).status).toBe(415);
    const del = await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": csrf }, JSON.stringify({ team, tool: "team_delete", args: {} }));
    expect(del.status).toBe(403);
    expect(JSON.parse(del.body).error).toMatch(/runs only send_message/);
    const badArgs = await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": csrf }, JSON.stringify({ team, tool: "send_message", args: { recipient: "alice", summary: "hi", content: "x", sender: "bob" } }));
    expect(badArgs.status).toBe(400);
    expect(JSON.parse(badArgs.body).error).toMatch(/unknown argument "sender"/); // the tool table's own validation
    expect(await eventCount()).toBe(before);
    expect(await lead.store.unreadCount(team, "alice")).toBe(0);
    expect(await lead.store.getTeam(team)).toBeDefined();

    // With everything right it goes through, as team-lead.
    const ok = await request(d.origin, "POST", "/api/action", { ...json, "X-CSRF-Token": csrf, Origin: d.origin }, send);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, text: "Sent to alice." });
    const events = await lead.store.readEvents(team, before);
    expect(events.map((e) => [e.kind, e.actor])).toEqual([["message.sent", "team-lead"]]);
  });

  it("refuses requests naming another host (DNS rebinding), and answers no CORS preflight", async () => {
    const r = await request(d.origin, "GET", "/api/teams", { Cookie: cookie, Host: "evil.example:80" });
    expect(r.status).toBe(403);
    const pre = await request(d.origin, "OPTIONS", "/api/action", { Origin: "http://evil.example", "Access-Control-Request-Method": "POST", Cookie: cookie });
    expect(pre.status).toBe(405);
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
    expect(pre.headers["access-control-allow-methods"]).toBeUndefined();
  });

  it("--as NAME: the page acts as that member; lead-only actions are not offered, and the tool refuses them", { timeout: 60_000 }, async () => {
    const env = { ...process.env, CLANKER_TEAMS_DIR: lead.store.location, CLANKER_AGENT_NAME: "" };
    const t = await lead.store.createTask(team, (id) => ({ task: { id, subject: "Needs a plan", description: "", status: "planning", owner: "alice", plan: "1. do it", planStatus: "submitted", blocks: [], blockedBy: [], createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() } }));
    const a = await startDashboardProc(env, [team, "--as", "alice"]);
    const context = await browser.newContext();
    try {
      const p = await context.newPage();
      await p.goto(a.url);
      await p.locator(`#board .card[data-id="${t.id}"]`).click();
      expect(await p.textContent("#me")).toBe("acting as alice");
      expect(await p.locator(`#task-actions button[data-act="approve"]`).count()).toBe(0);
      expect(await p.locator(`#members button.danger`).count()).toBe(0);
      const csrfA = await p.locator('meta[name="csrf-token"]').getAttribute("content");
      const r = await p.evaluate(async ({ team, id, csrf }) => {
        const res = await fetch("/api/action", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf! }, body: JSON.stringify({ team, tool: "task_evaluate_plan", args: { task_id: id, action: "approve" } }) });
        return { status: res.status, body: await res.json() };
      }, { team, id: t.id, csrf: csrfA });
      expect(r).toMatchObject({ status: 403, body: { ok: false, code: "FORBIDDEN", error: "only team-lead evaluates plans; you are alice." } });
      await p.click("#task-dialog .close");
      await p.click(`#members .member[data-name="team-lead"] button`);
      await p.fill("#compose-content", "From alice, via the page");
      await p.click("#compose-form button[type=submit]");
      await p.locator("#compose-result.ok").waitFor();
      const sent = (await lead.store.readEvents(team)).filter((e) => e.kind === "message.sent").at(-1);
      expect(sent).toMatchObject({ actor: "alice", data: { from: "alice", to: "team-lead", summary: "From alice, via the page" } });
      expect((await lead.store.getTask(team, t.id))?.planStatus).toBe("submitted");
    } finally {
      await context.close();
      await a.stop();
    }
  });

  it("a page of another origin in the same browser can neither read the dashboard nor act through it", async () => {
    // The attacker's page: another port of 127.0.0.1 (same site, so even the SameSite cookie goes along).
    const evil = http.createServer((_req, res) => { res.setHeader("Content-Type", "text/html"); res.end("<!doctype html><title>evil</title><p>hello</p>"); });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.1", () => r()));
    const evilOrigin = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
    const context = await browser.newContext();
    try {
      const p = await context.newPage();
      await p.goto(d.url); // the person is signed in
      await p.waitForSelector("#members .member");
      const before = await eventCount();
      await p.goto(evilOrigin);
      const outcome = await p.evaluate(async ({ dash, team }) => {
        const out: Record<string, string> = {};
        try { const r = await fetch(`${dash}/api/teams`, { credentials: "include" }); out.read = `read ${r.status}: ${await r.text()}`; } catch (e) { out.read = `refused: ${(e as Error).name}`; }
        try {
          const r = await fetch(`${dash}/api/action`, { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ team, tool: "send_message", args: { recipient: "alice", summary: "pwned", content: "pwned" } }) });
          out.json = `sent ${r.status}`;
        } catch (e) { out.json = `refused: ${(e as Error).name}`; }
        // A "simple" request needs no preflight: the browser sends it, cookie included; the server must refuse it itself.
        await fetch(`${dash}/api/action`, { method: "POST", mode: "no-cors", credentials: "include", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ team, tool: "send_message", args: { recipient: "alice", summary: "pwned", content: "pwned" } }) }).catch(() => undefined);
        return out;
      }, { dash: d.origin, team });
      expect(outcome.read).toBe("refused: TypeError"); // no Access-Control-Allow-Origin: the browser withholds the answer
      expect(outcome.json).toBe("refused: TypeError"); // the preflight gets no CORS answer: the POST is never sent
      await new Promise((r) => setTimeout(r, 300));
      expect(await eventCount()).toBe(before);
      expect((await lead.store.unread(team, "alice")).some((m) => m.summary === "pwned")).toBe(false);
    } finally {
      await context.close();
      evil.close();
    }
  });
});
