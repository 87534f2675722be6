/**
 * The dashboard's web server, on Node's own `http`: a handful of routes (the
 * page's three files, a JSON read or two, one event stream, one POST for
 * actions) need no framework, and nothing new to install or audit.
 *
 * Every request needs the access token: in the printed URL on the first
 * visit, then as an HttpOnly SameSite=Strict cookie (401 without). Every POST
 * also needs the CSRF token the page was given, a JSON body, and no foreign
 * Origin. Data comes only through the store interface (ctx.store), actions
 * only through the tool table (actions.ts).
 */
import fs from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Ctx } from "../../context.js";
import { isTeamsError } from "../../errors.js";
import { validateName } from "../../names.js";
import { runAction } from "./actions.js";
import { TeamFeed, type Send } from "./live.js";
import { authCookie, cookieName, hostAllowed, isLoopback, newSecret, readCookie, sameSecret, securityHeaders } from "./security.js";
import { mailView, taskView } from "./view.js";

export interface DashboardOptions {
  ctx: Ctx;
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** The team the printed URL opens. */
  team?: string;
  /** The access token (default: a new random one). */
  token?: string;
}

export interface Dashboard {
  /** The address to open: carries the access token. */
  url: string;
  /** scheme://host:port, no token. */
  origin: string;
  port: number;
  host: string;
  token: string;
  /** Stops serving: ends every open page's stream, stops watching the store. */
  close(): Promise<void>;
}

/** Largest POST body accepted (a message may hold 256 KB; JSON escaping may double it). */
const MAX_BODY = 2 * 1024 * 1024;
/** A comment on every stream this often keeps proxies and browsers from timing it out. */
const PING_MS = 15_000;
/** A page that reads slower than its stream grows is cut off (it reconnects and starts over). */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** A team's feed stays this long after its last page left (a reload, the page's own stream right after it). */
const LINGER_MS = 30_000;

const ASSETS: Record<string, string> = { "/app.js": "text/javascript; charset=utf-8", "/app.css": "text/css; charset=utf-8" };

/** The page's files ship with the package as they are written (no build step): src/hosts/dashboard/page/. */
export function pageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "clanker-teams") return path.join(dir, "src", "hosts", "dashboard", "page");
      } catch { /* another package.json: keep looking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("dashboard: cannot find the clanker-teams package (its src/hosts/dashboard/page holds the page)");
    dir = up;
  }
}

interface Page { html: string; assets: Map<string, Buffer> }

function loadPage(csrf: string): Page {
  const dir = pageDir();
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  const html = read("index.html").toString("utf8");
  for (const mark of ["__CSRF__", "<!--SNAPSHOT-->"]) if (!html.includes(mark)) throw new Error(`dashboard: ${path.join(dir, "index.html")} has no ${mark} placeholder`);
  return {
    // The CSRF token is base64url: nothing in it needs escaping in an attribute.
    html: html.replace("__CSRF__", csrf),
    assets: new Map([["/app.js", read("app.js")], ["/app.css", read("app.css")]]),
  };
}

/**
 * The team's snapshot inside the page, so the first paint waits for no second
 * request: a JSON data block (never run; CSP does not apply to it). Every "<"
 * is written \u003c, so no "</script>" or "<!--" in agent text can end it.
 */
function dataBlock(value: unknown): string {
  return `<script type="application/json" id="snapshot">${JSON.stringify(value).replace(/</g, "\\u003c")}</script>`;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(text + "\n");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const ch of req) {
    size += (ch as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error(`body: larger than ${MAX_BODY} bytes`), { status: 413 });
    chunks.push(ch as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The URL's host part for people: loopback when listening on every interface. */
function urlHost(host: string): string {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return h.includes(":") ? `[${h}]` : h;
}

/** Starts the dashboard; resolves when it listens. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const { ctx } = opts;
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token ?? newSecret();
  const csrf = newSecret();
  const page = loadPage(csrf);
  const feeds = new Map<string, TeamFeed>();
  const teamWatchers = new Set<Send>();
  const streams = new Set<ServerResponse>();
  let teamsKey = "";
  let teamsTimer: NodeJS.Timeout | undefined;
  let port = 0;

  /** The team list, checked every second while any page is open (teams have no change notification). */
  const checkTeams = async () => {
    try {
      const names = await ctx.store.listTeams();
      const key = JSON.stringify(names);
      if (key === teamsKey) return;
      teamsKey = key;
      for (const s of [...teamWatchers]) s("teams", { teams: names });
    } catch { /* the team feeds report store problems */ }
  };

  /** Closes a feed that has had no page for LINGER_MS (the team the address opens stays). */
  const linger = (f: TeamFeed) => {
    if (f.team === opts.team) return;
    setTimeout(() => {
      if (f.subscribers || feeds.get(f.team) !== f) return;
      feeds.delete(f.team);
      f.close();
    }, LINGER_MS).unref();
  };

  const feedFor = async (team: string): Promise<TeamFeed> => {
    let f = feeds.get(team);
    if (!f) {
      f = new TeamFeed(ctx, team, linger);
      feeds.set(team, f);
      const made = f;
      made.ready.then(() => linger(made), () => { if (feeds.get(team) === made) feeds.delete(team); made.close(); });
    }
    await f.ready;
    return f;
  };

  const stream = async (req: IncomingMessage, res: ServerResponse, team: string | null, seen: string | undefined) => {
    let feed: TeamFeed | undefined;
    if (team !== null) {
      feed = await feedFor(team);
      if (feed.gone) { sendJson(res, 404, { ok: false, code: "NOT_FOUND", error: `team "${team}" does not exist` }); return; }
    }
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no" });
    res.write("retry: 1000\n\n");
    streams.add(res);
    let unsubscribe: (() => void) | undefined;
    let ping: NodeJS.Timeout | undefined;
    let closed = false;
    const send: Send = (event, data) => {
      if (res.writableLength > MAX_BUFFERED) { res.destroy(); return; }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // The page went away (the response never ends by itself): stop sending to it.
    res.on("close", () => {
      closed = true;
      clearInterval(ping);
      streams.delete(res);
      teamWatchers.delete(send);
      if (!teamWatchers.size && teamsTimer) { clearInterval(teamsTimer); teamsTimer = undefined; }
      unsubscribe?.();
    });
    const names = await ctx.store.listTeams().catch(() => [] as string[]);
    if (closed) return;
    send("teams", { teams: names, me: ctx.actor });
    teamWatchers.add(send);
    if (!teamsTimer) { teamsKey = JSON.stringify(names); teamsTimer = setInterval(() => void checkTeams(), 1000); teamsTimer.unref(); }
    unsubscribe = feed?.subscribe(send, seen);
    ping = setInterval(() => res.write(": ping\n\n"), PING_MS);
    ping.unref();
  };

  const teamsSummary = async () => {
    const out = [];
    for (const name of await ctx.store.listTeams()) {
      const cfg = await ctx.store.getTeam(name);
      if (!cfg) continue;
      const rows = await ctx.store.listTasks(name);
      const count = (s: string) => rows.filter((r) => r.status === s).length;
      out.push({ name, description: cfg.description ?? null, members: cfg.members.length, tasks: { pending: count("pending"), planning: count("planning"), in_progress: count("in_progress"), completed: count("completed") } });
    }
    return { teams: out, me: ctx.actor };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    securityHeaders(res);
    if (!hostAllowed(req, host, port)) return sendText(res, 403, "403 Forbidden: this dashboard answers only to 127.0.0.1 and localhost on its own port.");
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const cookie = readCookie(req.headers.cookie, cookieName(port));
    const q = url.searchParams.get("token");
    if (req.method === "GET" && url.pathname === "/" && q !== null) {
      if (!sameSecret(q, token)) return sendText(res, 401, "401 Unauthorized: this token is not the dashboard's. Open the address clanker-teams dashboard printed.");
      // The token leaves the address bar (and history) at once; the cookie carries it from now on.
      const team = url.searchParams.get("team");
      res.writeHead(303, { "Set-Cookie": authCookie(port, token), Location: team ? `/?team=${encodeURIComponent(team)}` : "/" });
      return res.end();
    }
    if (!sameSecret(cookie, token)) return sendText(res, 401, "401 Unauthorized: open the address clanker-teams dashboard printed (it carries the access token).");

    if (req.method === "POST") {
      if (url.pathname !== "/api/action") return sendJson(res, 404, { ok: false, code: "NOT_FOUND", error: `no such action endpoint ${url.pathname}` });
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) return sendJson(res, 403, { ok: false, code: "FORBIDDEN", error: "cross-origin request refused" });
      const site = req.headers["sec-fetch-site"];
      if (site !== undefined && site !== "same-origin") return sendJson(res, 403, { ok: false, code: "FORBIDDEN", error: "cross-site request refused" });
      if (!sameSecret(req.headers["x-csrf-token"] as string | undefined, csrf)) return sendJson(res, 403, { ok: false, code: "FORBIDDEN", error: "missing or wrong CSRF token (X-CSRF-Token): reload the page" });
      if (!/^application\/json\b/.test(req.headers["content-type"] ?? "")) return sendJson(res, 415, { ok: false, code: "INVALID_INPUT", error: "the body must be JSON (Content-Type: application/json)" });
      let body: unknown;
      try { body = JSON.parse(await readBody(req)); } catch (e) {
        const status = (e as { status?: number }).status ?? 400;
        return sendJson(res, status, { ok: false, code: "INVALID_INPUT", error: status === 413 ? (e as Error).message : `body: not valid JSON (${(e as Error).message})` });
      }
      const r = await runAction(ctx, body);
      return sendJson(res, r.status, r.body);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD, POST");
      return sendText(res, 405, "405 Method Not Allowed");
    }

    if (url.pathname === "/") {
      const team = url.searchParams.get("team");
      let data = "";
      if (team !== null) {
        const f = await feedFor(validateName("team", team)).catch(() => undefined);
        if (f && !f.gone) data = dataBlock(f.snapshot());
      }
      const body = Buffer.from(page.html.replace("<!--SNAPSHOT-->", data));
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": body.length });
      return res.end(req.method === "HEAD" ? undefined : body);
    }
    const asset = page.assets.get(url.pathname);
    if (asset) {
      res.writeHead(200, { "Content-Type": ASSETS[url.pathname]!, "Content-Length": asset.length });
      return res.end(req.method === "HEAD" ? undefined : asset);
    }
    const team = url.searchParams.get("team");
    const needTeam = () => validateName("team", team ?? undefined);
    switch (url.pathname) {
      case "/api/stream":
        return stream(req, res, team === null ? null : needTeam(), url.searchParams.get("seen") ?? undefined);
      case "/api/teams":
        return sendJson(res, 200, await teamsSummary());
      case "/api/mail": {
        const before = url.searchParams.get("before");
        return sendJson(res, 200, await mailView(ctx, needTeam(), url.searchParams.get("agent") ?? "", before === null ? undefined : Number(before)));
      }
      case "/api/task": {
        const t = await ctx.store.getTask(needTeam(), url.searchParams.get("id") ?? "");
        return t ? sendJson(res, 200, { task: taskView(t, true) }) : sendJson(res, 404, { ok: false, code: "NOT_FOUND", error: "no such task" });
      }
      case "/api/events": {
        // Older events: the page asks for those before its oldest.
        const before = Math.max(1, Number(url.searchParams.get("before")) || 1);
        const from = Math.max(0, before - 1 - 200);
        return sendJson(res, 200, { events: await ctx.store.readEvents(needTeam(), from, before - 1 - from) });
      }
      default:
        return sendText(res, 404, "404 Not Found");
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const status = isTeamsError(e) ? (e.code === "NOT_FOUND" ? 404 : e.code === "INVALID_INPUT" ? 400 : 500) : 500;
      if (!res.headersSent) sendJson(res, status, { ok: false, code: isTeamsError(e) ? e.code : "INTERNAL", error: (e as Error).message });
      else res.destroy();
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // event streams stay open

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => { server.off("error", reject); resolve(); });
  });
  port = (server.address() as AddressInfo).port;
  // The team the address opens is read before the address is printed: the first visit finds it ready.
  if (opts.team) await feedFor(validateName("team", opts.team)).catch(() => undefined);
  const origin = `http://${urlHost(host)}:${port}`;
  return {
    url: `${origin}/?token=${token}${opts.team ? `&team=${encodeURIComponent(opts.team)}` : ""}`,
    origin,
    port,
    host,
    token,
    async close() {
      for (const f of feeds.values()) f.close();
      feeds.clear();
      if (teamsTimer) clearInterval(teamsTimer);
      for (const s of streams) s.destroy();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
    },
  };
}

export { isLoopback };
