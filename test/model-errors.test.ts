import { describe, expect, it } from "vitest";
import { MAX_REASON, classifyModelError, hintFor, oneLine } from "../src/hosts/model-errors.js";

describe("classifyModelError", () => {
  it.each([
    ["No API key found for anthropic.\n\nUse /login to log into a provider", "auth"],
    ['401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}', "auth"],
    ["403 Forbidden", "auth"],
    ["429 rate_limit_error: too many requests", "quota"],
    ["You exceeded your current quota, please check your plan and billing details.", "quota"],
    ["prompt is too long: 213462 tokens > 200000 maximum", "context"],
    ["fetch failed", "network"],
    ["connect ECONNREFUSED 127.0.0.1:443", "network"],
    ["529 overloaded_error", "server"],
    ["the model said something odd", "other"],
  ])("%s → %s", (message, kind) => {
    expect(classifyModelError(message).kind).toBe(kind);
  });

  it("keys: a retry of the same failure is the same key (request ids differ); another kind is another key", () => {
    const a = classifyModelError('401 {"error":"invalid x-api-key","request_id":"req_011CaAbc123"}');
    const b = classifyModelError('401 {"error":"invalid x-api-key","request_id":"req_011CzZzz999"}');
    expect(a.key).toBe(b.key);
    expect(classifyModelError("429 too many requests").key).not.toBe(a.key);
    expect(classifyModelError("weird failure 1234").key).toBe(classifyModelError("weird failure 98765").key);
    expect(classifyModelError("weird failure").key).not.toBe(classifyModelError("other failure").key);
  });

  it("the reason is one line without control characters, bounded", () => {
    expect(classifyModelError("No API key found for x.\n\nUse /login\u001b[31m").reason).toBe("No API key found for x. Use /login [31m");
    expect(oneLine("a".repeat(1000))).toHaveLength(MAX_REASON);
    expect(classifyModelError(undefined).reason).toMatch(/unknown error/);
    expect(classifyModelError("").reason).toMatch(/unknown error/);
  });

  it("every kind has a hint", () => {
    for (const k of ["auth", "quota", "network", "context", "server", "other"] as const) expect(hintFor(k).length).toBeGreaterThan(10);
  });
});
