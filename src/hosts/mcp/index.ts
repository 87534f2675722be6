/**
 * `clanker-teams mcp`: serves the team tools to any MCP client for one agent,
 * on stdio (the host starts us) or Streamable HTTP on 127.0.0.1 with a bearer
 * token. Runs until stdin closes (stdio), a signal arrives, or the lead
 * approves this teammate's shutdown.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { newSession, type Ctx } from "../../context.js";
import { runCompletionHook } from "../../agents/hooks.js";
import { AgentSession } from "./agent.js";
import { serveHttp, httpToken } from "./http.js";
import { resolveIdentity } from "./identity.js";
import { instructionsFor } from "./instructions.js";
import { buildServer } from "./server.js";

export interface McpOptions {
  team?: string;
  as?: string;
  /** Serve Streamable HTTP on this port of 127.0.0.1 instead of stdio (0: any free port). */
  http?: number;
  /** End the host process (our parent) when the lead approves our shutdown (spawned teammates). */
  stopHost?: boolean;
  /** Extra words for the instructions' note on mail (e.g. a host whose hooks push it). */
  pushNote?: string;
}

/** Runs the server until it ends; resolves with the exit code. `base` carries the store and env. */
export async function runMcp(base: Ctx, o: McpOptions): Promise<number> {
  const id = resolveIdentity({ team: o.team, as: o.as }, base.env);
  const session = newSession();
  const cwd = process.cwd();
  const ctxFor = (): Ctx => ({ ...base, actor: id.actor, cwd, runHook: runCompletionHook, session });
  const stdio = o.http === undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  const agent = new AgentSession(id, ctxFor, {
    // A stdio server is a child of its host: the host's pid is the agent's (the lead's kill and liveness mean the host).
    pid: stdio && process.ppid > 1 ? process.ppid : process.pid,
    stopHost: !!o.stopHost && stdio,
    onExit: () => finish(0),
  });
  const instructions = await instructionsFor(ctxFor(), id, { pushNote: o.pushNote });
  await agent.start();
  process.once("exit", () => agent.stopSync());
  const onSignal = () => finish(0);
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  process.once("SIGHUP", onSignal);

  let close: () => Promise<void>;
  if (stdio) {
    const server = buildServer(agent, ctxFor, instructions);
    const transport = new StdioServerTransport();
    // The host closing our stdin (it exited, or was killed) ends the agent.
    process.stdin.once("end", () => finish(0));
    process.stdin.once("close", () => finish(0));
    await server.connect(transport);
    close = () => server.close();
  } else {
    const token = httpToken(base.env);
    const h = await serveHttp(o.http!, token, () => buildServer(agent, ctxFor, instructions));
    process.stderr.write(`clanker-teams mcp: ${id.actor}${id.team ? ` in ${id.team}` : ""} on ${h.url} (send Authorization: Bearer ${token})\n`);
    close = () => h.close();
  }
  const code = await done;
  await agent.stop();
  await close().catch(() => undefined);
  return code;
}
