/** OpenAI Responses API, streaming (what Codex speaks), answered by a ScriptedModel. MCP tools come in a namespace. */
import { makeView, serve, sse, sseHead, type ModelServer, type ScriptedModel } from "./engine.js";

type Item = { type: string; role?: string; content?: unknown; name?: string; namespace?: string; call_id?: string; output?: unknown; arguments?: string };

const textOf = (c: unknown): string => typeof c === "string" ? c : Array.isArray(c) ? c.map((p: { text?: string }) => p.text ?? "").join("\n") : c && typeof c === "object" ? JSON.stringify(c) : "";

/** Every function tool offered, with its namespace ("" for top-level ones). */
function offered(tools: any[]): Array<{ name: string; namespace: string }> {
  const out: Array<{ name: string; namespace: string }> = [];
  for (const t of tools ?? []) {
    if (Array.isArray(t.tools)) for (const s of t.tools) out.push({ name: s.name, namespace: t.name });
    else if (t.name) out.push({ name: t.name, namespace: "" });
  }
  return out;
}

export function responsesServer(model: ScriptedModel): Promise<ModelServer> {
  let n = 0;
  return serve(async (req, body, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/responses")) { res.writeHead(404).end(); return; }
    const tools = offered(body.tools);
    const ours = tools.filter((t) => t.namespace.startsWith("mcp__clanker"));
    const callNames = new Map<string, string>();
    const turns: Array<{ role: "user" | "toolResult"; text: string; tool?: string }> = [];
    for (const it of (body.input ?? []) as Item[]) {
      if (it.type === "function_call") callNames.set(it.call_id!, it.name!);
      else if (it.type === "function_call_output") turns.push({ role: "toolResult", text: textOf(it.output), tool: callNames.get(it.call_id!) });
      else if (it.type === "message" && it.role === "user") turns.push({ role: "user", text: textOf(it.content) });
    }
    const system = [body.instructions ?? "", ...((body.input ?? []) as Item[]).filter((i) => i.type === "message" && i.role === "developer").map((i) => textOf(i.content))].join("\n");
    const agentTurn = ours.length > 0;
    const answer = agentTurn ? await model.next(makeView({ system, turns }), ours.map((t) => t.name)) : (model.aux.push("responses"), { text: "ok", calls: [] });
    sseHead(res);
    const rid = `resp_${++n}`;
    sse(res, { type: "response.created", response: { id: rid } }, "response.created");
    if (answer.error) {
      sse(res, { type: "response.failed", response: { id: rid, error: { code: "server_error", message: answer.error } } }, "response.failed");
      res.end();
      return;
    }
    if (answer.text !== undefined) {
      sse(res, { type: "response.output_item.done", item: { type: "message", role: "assistant", id: `msg_${n}`, status: "completed", content: [{ type: "output_text", text: answer.text, annotations: [] }] } }, "response.output_item.done");
    }
    answer.calls.forEach((c, i) => {
      const t = ours.find((x) => x.name === c.name) ?? tools.find((x) => x.name === c.name);
      sse(res, { type: "response.output_item.done", item: { type: "function_call", id: `fc_${n}_${i}`, call_id: `call_${n}_${i}`, name: c.name, ...(t?.namespace ? { namespace: t.namespace } : {}), arguments: JSON.stringify(c.args), status: "completed" } }, "response.output_item.done");
    });
    sse(res, { type: "response.completed", response: { id: rid, usage: { input_tokens: 1, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2 } } }, "response.completed");
    res.end();
  });
}
