/** Small helpers for the builders: private files, model names, JSON config merging. */
import fs from "node:fs";
import path from "node:path";
import { invalid } from "../../errors.js";

/** Writes a private file (0600) in a builder's directory; returns its path. */
export function writePrivate(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text, { mode: 0o600 });
  return f;
}

/** A provider/model name without the provider this CLI implies ("anthropic/claude-x" → "claude-x"). */
export function stripProvider(model: string, providers: string[]): string {
  const slash = model.indexOf("/");
  return slash > 0 && providers.includes(model.slice(0, slash)) ? model.slice(slash + 1) : model;
}

/** Merges `server` into the JSON object at `key` (e.g. mcpServers) of a config file's text, keeping everything else. */
export function mergeJson(existing: string | undefined, file: string, keyPath: string[], value: unknown): string {
  let doc: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim()) {
    try { doc = JSON.parse(existing) as Record<string, unknown>; } catch { throw invalid(file, "is not valid JSON; fix it (or move it aside) and run init again"); }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw invalid(file, "must hold a JSON object");
  }
  let at = doc;
  for (const k of keyPath.slice(0, -1)) {
    const next = at[k];
    if (next !== undefined && (typeof next !== "object" || next === null || Array.isArray(next))) throw invalid(`${file}: ${keyPath.slice(0, -1).join(".")}`, "must be a JSON object");
    at = (at[k] ??= {}) as Record<string, unknown>;
  }
  at[keyPath.at(-1)!] = value;
  return JSON.stringify(doc, null, 2) + "\n";
}

/** A TOML basic string (JSON's string escapes are valid TOML). */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** A TOML inline array of strings. */
export function tomlArray(a: string[]): string {
  return `[${a.map(tomlString).join(", ")}]`;
}

/** A TOML inline table of strings (keys quoted, so any name is safe). */
export function tomlTable(o: Record<string, string>): string {
  return `{ ${Object.entries(o).map(([k, v]) => `${tomlString(k)} = ${tomlString(v)}`).join(", ")} }`;
}
