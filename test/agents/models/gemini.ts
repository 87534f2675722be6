/** Gemini API streamGenerateContent (what Gemini CLI speaks), answered by a ScriptedModel. */
import { makeView, offeredName, plainName, serve, sse, sseHead, type ModelServer, type ScriptedModel } from "./engine.js";

type Part = { text?: string; functionCall?: { name: string; args?: unknown }; functionResponse?: { name: string; response?: unknown }; thought?: boolean };

const usage = { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 };

export function geminiServer(model: ScriptedModel): Promise<ModelServer> {
  return serve(async (req, body, res) => {
    const url = req.url ?? "";
    if (req.method !== "POST" || !/:(streamGenerateContent|generateContent|countTokens)/.test(url)) { res.writeHead(404).end(); return; }
    if (url.includes(":countTokens")) { res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ totalTokens: 10 })); return; }
    const offered: string[] = (body.tools ?? []).flatMap((t: { functionDeclarations?: Array<{ name: string }> }) => (t.functionDeclarations ?? []).map((f) => f.name));
    const ours = offered.filter((n) => /^mcp_clanker[-_]teams_/.test(n));
    if (!url.includes(":streamGenerateContent") || !ours.length) {
      // Side queries (next-speaker checks, routing, summaries): a JSON-ish text that ends the turn.
      model.aux.push(url.replace(/\?.*/, ""));
      const text = JSON.stringify({ reasoning: "scripted", next_speaker: "user", complexity_score: 1 });
      const out = { candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }], usageMetadata: usage };
      if (url.includes(":streamGenerateContent")) { sseHead(res); sse(res, out); res.end(); } else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      return;
    }
    const turns: Array<{ role: "user" | "toolResult"; text: string; tool?: string }> = [];
    for (const c of (body.contents ?? []) as Array<{ role: string; parts: Part[] }>) {
      if (c.role !== "user") continue;
      const fr = c.parts.filter((p) => p.functionResponse);
      for (const p of fr) {
        const r = (p.functionResponse!.response ?? {}) as { output?: unknown };
        turns.push({ role: "toolResult", text: typeof r.output === "string" ? r.output : JSON.stringify(r), tool: plainName(p.functionResponse!.name) });
      }
      const text = c.parts.filter((p) => p.text !== undefined).map((p) => p.text).join("\n");
      if (text.trim() && !fr.length) turns.push({ role: "user", text });
    }
    const system = (body.systemInstruction?.parts ?? []).map((p: Part) => p.text ?? "").join("\n");
    const answer = await model.next(makeView({ system, turns }), ours.map(plainName));
    if (answer.error) { res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 500, message: answer.error, status: "INTERNAL" } })); return; }
    const parts: Part[] = [];
    if (answer.text !== undefined) parts.push({ text: answer.text });
    for (const c of answer.calls) parts.push({ functionCall: { name: offeredName(c.name, offered), args: c.args } });
    sseHead(res);
    sse(res, { candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }], usageMetadata: usage });
    res.end();
  });
}
