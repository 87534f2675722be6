/** OpenAI chat completions, streaming (what opencode's openai-compatible provider speaks), answered by a ScriptedModel. */
import { makeView, offeredName, plainName, serve, sse, sseHead, type ModelServer, type ScriptedModel } from "./engine.js";

type Msg = { role: string; content?: unknown; tool_calls?: Array<{ id: string; function: { name: string } }>; tool_call_id?: string };
const textOf = (c: unknown): string => typeof c === "string" ? c : Array.isArray(c) ? c.map((p: { text?: string }) => p.text ?? "").join("\n") : "";

export function chatServer(model: ScriptedModel): Promise<ModelServer> {
  let n = 0;
  return serve(async (req, body, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) { res.writeHead(404).end(); return; }
    const offered: string[] = (body.tools ?? []).map((t: { function: { name: string } }) => t.function.name);
    const ours = offered.filter((x) => /^clanker[-_]teams_/.test(x));
    const msgs: Msg[] = body.messages ?? [];
    const names = new Map<string, string>();
    const turns: Array<{ role: "user" | "toolResult"; text: string; tool?: string }> = [];
    for (const m of msgs) {
      if (m.role === "assistant") for (const c of m.tool_calls ?? []) names.set(c.id, plainName(c.function.name));
      else if (m.role === "tool") turns.push({ role: "toolResult", text: textOf(m.content), tool: names.get(m.tool_call_id!) });
      else if (m.role === "user") turns.push({ role: "user", text: textOf(m.content) });
    }
    const system = msgs.filter((m) => m.role === "system").map((m) => textOf(m.content)).join("\n");
    const answer = ours.length ? await model.next(makeView({ system, turns }), ours.map(plainName)) : (model.aux.push("chat: no tools (title)"), { text: "Team task", calls: [] });
    if (answer.error) { res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: answer.error } })); return; }
    sseHead(res);
    const id = `chatcmpl_${++n}`;
    const chunk = (delta: unknown, finish: string | null = null) => ({ id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] });
    sse(res, chunk({ role: "assistant", content: "" }));
    if (answer.text !== undefined) sse(res, chunk({ content: answer.text }));
    answer.calls.forEach((c, i) => sse(res, chunk({ tool_calls: [{ index: i, id: `call_${n}_${i}`, type: "function", function: { name: offeredName(c.name, offered), arguments: JSON.stringify(c.args) } }] })));
    sse(res, chunk({}, answer.calls.length ? "tool_calls" : "stop"));
    sse(res, { id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: body.model, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    sse(res, "[DONE]");
    res.end();
  });
}
