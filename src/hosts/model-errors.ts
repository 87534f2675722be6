/**
 * Failed model calls as the extension reports them: a one-line reason for the
 * presence file and the lead, and a kind that decides whether a new failure is
 * news (a retry of the same failure is not). Pure, so it is unit-tested.
 */

export type ModelErrorKind = "auth" | "quota" | "network" | "context" | "server" | "other";

export interface ModelFailure {
  kind: ModelErrorKind;
  /** One line, at most MAX_REASON characters. */
  reason: string;
  /** Equal keys are the same failure (request ids and counters do not count). */
  key: string;
}

export const MAX_REASON = 300;

// Tried in order: "429 … quota" is quota, "401 … network" is auth.
const KINDS: Array<[ModelErrorKind, RegExp]> = [
  ["auth", /\b40[13]\b|no api key|api.?key|unauthori[sz]ed|forbidden|authenticat|permission|credential|\/login|no model selected/i],
  ["quota", /\b429\b|rate.?limit|quota|too many requests|insufficient.?(credit|balance|fund)|billing|usage limit/i],
  ["context", /context.?(length|window|overflow)|too long|maximum context|too many tokens|token limit|exceeds the/i],
  ["network", /network|fetch failed|ECONN\w*|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket|timed? ?out|connection|offline|dns/i],
  ["server", /\b5\d\d\b|overloaded|server.?error|internal.?error|service.?unavailable|bad gateway/i],
];

const HINTS: Record<ModelErrorKind, string> = {
  auth: "Fix the API key or login of that model (or spawn the teammate with another model).",
  quota: "Rate limit or quota: pi retries by itself; wait, or spawn the teammate with another model.",
  context: "Its context is full: stop it and spawn a fresh teammate.",
  network: "Network error: check the connection; pi retries by itself, and new mail triggers another call.",
  server: "The provider failed: pi retries by itself, and new mail triggers another call.",
  other: "New mail triggers another call.",
};

/** Collapses whitespace and control characters to one line of at most MAX_REASON characters. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, " ").trim();
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON - 1)}…` : flat;
}

/** Classifies a model call's error message. */
export function classifyModelError(message: string | undefined): ModelFailure {
  const reason = oneLine(message || "unknown error (the provider gave no message)");
  const kind = KINDS.find(([, re]) => re.test(reason))?.[0] ?? "other";
  // Ids and counters change on every retry; the words do not.
  const key = kind === "other" ? `other:${reason.replace(/[0-9a-f_-]*\d[0-9a-f_-]*/gi, "#").toLowerCase()}` : kind;
  return { kind, reason, key };
}

/** What the lead can do about a failure of this kind. */
export function hintFor(kind: ModelErrorKind): string {
  return HINTS[kind];
}
