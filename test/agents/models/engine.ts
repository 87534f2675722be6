/**
 * The scripted model behind every API module here: the same Script format
 * and decision rules as the pi scripted provider (src/demo/scripted-provider.ts,
 * docs/testing-with-pi.md), fed with what an agent CLI sent over its API.
 * Tool names in scripts are ours (task_claim); each API module maps them to
 * the names the CLI offers (mcp__clanker-teams__task_claim, …) and back.
 */
import http from "node:http";
import { decide, render, type Reply, type ScriptBody, type View } from "../../../src/demo/scripted-provider.js";

export type { Reply, ScriptBody, View };

export interface Call { name: string; args: Record<string, unknown> }
export interface Answer { text?: string; calls: Call[]; error?: string }

export interface LogEntry { n: number; source: string; view: View; tools: string[]; answer: Answer }

/** One scripted agent's model: decides each reply from the script and logs what it saw. */
export class ScriptedModel {
  readonly log: LogEntry[] = [];
  /** Requests that were not agent turns (titles, checks), by path. */
  readonly aux: string[] = [];
  private state = { calls: 0, stepIndex: 0, ruleFired: [] as number[], seq: undefined as never };

  constructor(private readonly script: ScriptBody, private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The next reply for a view; `tools` are the plain tool names offered. */
  async next(view: View, tools: string[]): Promise<Answer> {
    if (this.state.calls >= (this.script.maxCalls ?? 60)) return this.record(view, tools, "maxCalls", { calls: [], error: "script: maxCalls exceeded, probably a rule loop" });
    const { reply, caps, source } = decide(this.script, this.state as never, view);
    this.state.calls++;
    if (reply.waitForFile) { const fs = await import("node:fs"); while (!fs.existsSync(reply.waitForFile)) await new Promise((r) => setTimeout(r, 50)); }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.error !== undefined) return this.record(view, tools, source, { calls: [], error: String(render(reply.error, caps, this.env)) });
    const text = reply.text !== undefined ? String(render(reply.text, caps, this.env)) : undefined;
    const calls = [...(reply.tool ? [{ tool: reply.tool, args: reply.args }] : []), ...(reply.tools ?? [])]
      .map((c) => ({ name: String(render(c.tool, caps, this.env)), args: (render(c.args ?? {}, caps, this.env) ?? {}) as Record<string, unknown> }));
    return this.record(view, tools, source, { text, calls });
  }

  private record(view: View, tools: string[], source: string, answer: Answer): Answer {
    this.log.push({ n: this.log.length + 1, source, view, tools, answer });
    return answer;
  }

  /** Agent turns whose newest input contains `text`. */
  saw(text: string): LogEntry[] {
    return this.log.filter((e) => e.view.lastText.includes(text));
  }
}

/** Builds a View from the pieces every API has. */
export function makeView(o: { system: string; turns: Array<{ role: "user" | "toolResult"; text: string; tool?: string }> }): View {
  const last = o.turns.at(-1);
  const lastUser = [...o.turns].reverse().find((t) => t.role === "user");
  const lastTool = [...o.turns].reverse().find((t) => t.role === "toolResult");
  return {
    lastRole: last?.role ?? "", lastText: last?.text ?? "", lastToolName: last?.role === "toolResult" ? last.tool : undefined,
    userText: lastUser?.text ?? "", toolResultText: lastTool?.text ?? "", systemPrompt: o.system, anyText: o.turns.map((t) => t.text).join("\n"),
  };
}

/** The offered name for one of our tool names (the one that ends with it), or the name as given. */
export function offeredName(plain: string, offered: string[]): string {
  return offered.find((n) => n === plain) ?? offered.find((n) => n.endsWith(`_${plain}`)) ?? plain;
}

/** Our tool name for an offered one (strips the host's MCP prefix). */
export function plainName(offered: string): string {
  const m = /^(?:mcp__clanker[-_]teams__|mcp_clanker[-_]teams_|clanker[-_]teams_)(.+)$/.exec(offered);
  return m ? m[1]! : offered;
}

export interface ModelServer { url: string; port: number; requests: Array<{ method: string; path: string }>; close(): Promise<void> }

/** Serves `handler` on 127.0.0.1 (a free port); every request is recorded. */
export async function serve(handler: (req: http.IncomingMessage, body: any, res: http.ServerResponse) => Promise<void>): Promise<ModelServer> {
  const requests: Array<{ method: string; path: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "" });
      let body: unknown;
      try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined; } catch { body = undefined; }
      handler(req, body, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(e?.stack ?? e) } }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, port, requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

/** Writes one SSE event. */
export function sse(res: http.ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

export function sseHead(res: http.ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
}
