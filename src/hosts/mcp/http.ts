/**
 * Streamable HTTP for hosts that prefer it: 127.0.0.1 only, every request
 * must carry `Authorization: Bearer <token>` (DESIGN invariant 7), Host and
 * Origin checked against DNS rebinding. One MCP session per client; all
 * speak for the same agent.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { invalid } from "../../errors.js";

/** The token: CLANKER_TEAMS_MCP_TOKEN (at least 16 characters) or a fresh random one. */
export function httpToken(env: NodeJS.ProcessEnv): string {
  const t = env.CLANKER_TEAMS_MCP_TOKEN?.trim();
  if (t === undefined || t === "") return randomBytes(24).toString("base64url");
  if (t.length < 16 || /\s/.test(t)) throw invalid("CLANKER_TEAMS_MCP_TOKEN", "must be at least 16 characters with no spaces; unset it to get a random token");
  return t;
}

function authorized(req: http.IncomingMessage, token: string): boolean {
  const h = req.headers.authorization ?? "";
  const m = /^Bearer (.+)$/.exec(h);
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: http.IncomingMessage, limit = 4 * 1024 * 1024): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new Error("request body too large")); req.destroy(); return; }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!size) return resolve(undefined);
      try { resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))); } catch (e) { reject(e); }
    });
    req.on("error", reject);
  });
}

function reply(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

export interface HttpHandle { port: number; url: string; close(): Promise<void> }

/** Listens on 127.0.0.1:`port` (0: any free port) at /mcp; `makeServer` builds one MCP server per session. */
export async function serveHttp(port: number, token: string, makeServer: () => Server): Promise<HttpHandle> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let bound = port;
  const httpServer = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/mcp") return reply(res, 404, "not found: the MCP endpoint is /mcp");
      if (!authorized(req, token)) return reply(res, 401, "missing or wrong bearer token (Authorization: Bearer <token>)", { "www-authenticate": "Bearer" });
      // DNS rebinding: a page that resolves its own name to 127.0.0.1 sends its own Host (and Origin).
      const hosts = [`127.0.0.1:${bound}`, `localhost:${bound}`];
      const origin = req.headers.origin;
      if (!hosts.includes(req.headers.host ?? "") || (origin !== undefined && !hosts.some((h) => origin === `http://${h}`))) return reply(res, 403, "forbidden Host or Origin: connect to 127.0.0.1");
      const sid = req.headers["mcp-session-id"];
      let transport = typeof sid === "string" ? sessions.get(sid) : undefined;
      const body = req.method === "POST" ? await readBody(req) : undefined;
      if (!transport) {
        if (typeof sid === "string") return reply(res, 404, "unknown session; initialize again");
        if (req.method !== "POST" || !isInitializeRequest(body)) return reply(res, 400, "no session: send an initialize request first");
        const t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => { sessions.set(id, t); },
        });
        t.onclose = () => { if (t.sessionId) sessions.delete(t.sessionId); };
        await makeServer().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res, body);
    })().catch((e: unknown) => { if (!res.headersSent) reply(res, 400, (e as Error).message); else res.end(); });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", () => resolve());
  });
  bound = (httpServer.address() as { port: number }).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      await new Promise<void>((r) => { httpServer.close(() => r()); httpServer.closeAllConnections?.(); });
    },
  };
}
