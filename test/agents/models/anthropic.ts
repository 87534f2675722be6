/** Anthropic Messages API, streaming (what Claude Code speaks), answered by a ScriptedModel. */
import { makeView, offeredName, plainName, serve, sse, sseHead, type ModelServer, type ScriptedModel } from "./engine.js";

type Block = { type: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown };

const textOf = (c: unknown): string => typeof c === "string" ? c : Array.isArray(c) ? c.map((b: Block) => b.type === "text" ? b.text ?? "" : b.type === "tool_result" ? textOf(b.content) : "").join("\n") : "";

/** Starts a Messages API server for `model`. Requests without tools (side queries) get a short text and are not agent turns. */
export function anthropicServer(model: ScriptedModel): Promise<ModelServer> {
  let ids = 0;
  return serve(async (req, body, res) => {
    if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) { res.writeHead(404).end(); return; }
    if (req.url.startsWith("/v1/messages/count_tokens")) { res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ input_tokens: 10 })); return; }
    const offered: string[] = (body.tools ?? []).map((t: { name: string }) => t.name);
    const msgs: Array<{ role: string; content: string | Block[] }> = body.messages ?? [];
    const toolNames = new Map<string, string>();
    const turns: Array<{ role: "user" | "toolResult"; text: string; tool?: string }> = [];
    let sinceAssistant = false; // a user message already seen since the last assistant message
    for (const m of msgs) {
      const blocks: Block[] = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
      if (m.role === "assistant") { for (const b of blocks) if (b.type === "tool_use") toolNames.set(b.id!, plainName(b.name!)); sinceAssistant = false; continue; }
      const results = blocks.filter((b) => b.type === "tool_result");
      for (const r of results) turns.push({ role: "toolResult", text: textOf(r.content), tool: toolNames.get(r.tool_use_id!) });
      const text = blocks.filter((b) => b.type === "text").map((b) => b.text ?? "").join("\n");
      // Claude Code adds reminders and MCP instructions as extra text blocks and messages: they join the
      // turn they follow (a prompt, or a tool result), so rules still see that turn as the newest.
      const prev = turns.at(-1);
      if (text.trim()) {
        if ((results.length || sinceAssistant) && prev) prev.text += "\n" + text;
        else turns.push({ role: "user", text });
      }
      sinceAssistant = true;
    }
    const system = typeof body.system === "string" ? body.system : (body.system ?? []).map((b: Block) => b.text ?? "").join("\n");
    const agentTurn = offered.some((n) => n.startsWith("mcp__"));
    if (!agentTurn && offered.includes("WaitForMcpServers")) {
      // The TUI's first turn can start before its MCP servers are connected: do what a model does then (not a script step).
      model.aux.push("WaitForMcpServers");
      sseHead(res);
      const id = `msg_${++ids}`;
      sse(res, { type: "message_start", message: { id, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } }, "message_start");
      sse(res, { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: `toolu_wait_${ids}`, name: "WaitForMcpServers", input: {} } }, "content_block_start");
      sse(res, { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{}" } }, "content_block_delta");
      sse(res, { type: "content_block_stop", index: 0 }, "content_block_stop");
      sse(res, { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 1 } }, "message_delta");
      sse(res, { type: "message_stop" }, "message_stop");
      res.end();
      return;
    }
    const answer = agentTurn ? await model.next(makeView({ system, turns }), offered.map(plainName)) : (model.aux.push(`messages:${textOf(msgs.at(-1)?.content).slice(0, 60)} tools:${offered.join(",")}`), { text: "ok", calls: [] });
    if (answer.error) { res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ type: "error", error: { type: "api_error", message: answer.error } })); return; }
    sseHead(res);
    const id = `msg_${++ids}`;
    sse(res, { type: "message_start", message: { id, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } }, "message_start");
    let idx = 0;
    if (answer.text !== undefined) {
      sse(res, { type: "content_block_start", index: idx, content_block: { type: "text", text: "" } }, "content_block_start");
      sse(res, { type: "content_block_delta", index: idx, delta: { type: "text_delta", text: answer.text } }, "content_block_delta");
      sse(res, { type: "content_block_stop", index: idx++ }, "content_block_stop");
    }
    for (const c of answer.calls) {
      sse(res, { type: "content_block_start", index: idx, content_block: { type: "tool_use", id: `toolu_${ids}_${idx}`, name: offeredName(c.name, offered), input: {} } }, "content_block_start");
      sse(res, { type: "content_block_delta", index: idx, delta: { type: "input_json_delta", partial_json: JSON.stringify(c.args) } }, "content_block_delta");
      sse(res, { type: "content_block_stop", index: idx++ }, "content_block_stop");
    }
    sse(res, { type: "message_delta", delta: { stop_reason: answer.calls.length ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } }, "message_delta");
    sse(res, { type: "message_stop" }, "message_stop");
    res.end();
  });
}
