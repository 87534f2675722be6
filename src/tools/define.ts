/** The shape of a tool in the one tool table, and how its input is validated. */
import { z } from "zod";
import type { Ctx } from "../context.js";
import { TeamsError } from "../errors.js";

export type Role = "lead" | "teammate";
/** Where a tool is offered: the pi/clanker extension, the MCP server, the CLI's `call`. */
export type Host = "pi" | "mcp" | "cli";

export interface ToolResult {
  /** Short text for the model. */
  text: string;
  /** Structured result for programs (CLI --json, tests). */
  details: Record<string, unknown>;
}

export interface ToolDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  label: string;
  /** What the model reads: short and precise. */
  description: string;
  params: S;
  /** Who gets the tool inside the agent. */
  roles: Role[];
  /** Hosts that offer it (default: all). pi pushes mail, so e.g. wait_for_mail is not offered there. */
  hosts?: Host[];
  /** An example call: shown in error messages and docs/reference.md. The reference's examples run in order as one session (test/docs.test.ts). */
  example: z.input<S>;
  /** Further example calls for docs/reference.md, run after `example`. */
  moreExamples?: z.input<S>[];
  run(ctx: Ctx, args: z.output<S>): Promise<ToolResult>;
}

/** Declares a tool (keeps the zod type of its params). */
export function defineTool<S extends z.ZodObject>(def: ToolDef<S>): ToolDef<S> {
  return def;
}

/** Validates raw input against a tool's schema; the error names the field and the fix. */
export function parseArgs<S extends z.ZodObject>(tool: ToolDef<S>, raw: unknown): z.output<S> {
  const input = raw === undefined || raw === null ? {} : raw;
  if (typeof input !== "object" || Array.isArray(input)) {
    throw new TeamsError("INVALID_INPUT", `${tool.name}: arguments must be a JSON object such as ${JSON.stringify(tool.example)}`);
  }
  const unknownKey = unknownKeyError(tool, input as Record<string, unknown>);
  if (unknownKey) throw unknownKey;
  // reportInput: zod 4 leaves issue.input out unless asked, and the messages below need it.
  const r = tool.params.safeParse(input, { reportInput: true });
  if (r.success) return r.data;
  const msgs = r.error.issues.slice(0, 3).map((i) => {
    const field = i.path.join(".") || "(arguments)";
    if (i.code === "invalid_type" && i.input === undefined) return `${field}: is required`;
    if (i.code === "invalid_value" && "values" in i) return `${field}: must be one of ${(i.values as unknown[]).map(String).join(", ")} (got ${JSON.stringify(i.input)})`;
    return `${field}: ${i.message}`;
  });
  throw new TeamsError("INVALID_INPUT", `${tool.name}: ${msgs.join("; ")}. Example: ${JSON.stringify(tool.example)}`, { field: r.error.issues[0]?.path.join(".") });
}

/**
 * Unknown keys are refused, not dropped: a typo ("stauts") would otherwise be
 * silently ignored. The schema stays a plain z.object (no additionalProperties
 * for hosts); this check names the closest known key.
 */
function unknownKeyError(tool: ToolDef, input: Record<string, unknown>): TeamsError | undefined {
  const known = Object.keys(tool.params.shape);
  const unknown = Object.keys(input).filter((k) => !Object.hasOwn(tool.params.shape, k));
  if (!unknown.length) return undefined;
  const what = unknown.map((k) => {
    const near = closest(k, known);
    return `${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ""}`;
  });
  return new TeamsError("INVALID_INPUT", `${tool.name}: unknown argument${unknown.length > 1 ? "s" : ""} ${what.join(", ")}; its arguments are ${known.join(", ")}. Example: ${JSON.stringify(tool.example)}`, { field: unknown[0] });
}

/** The known key nearest to `key` by edit distance (case-insensitive, a swap of neighbours counts 1), if it is near enough to be a typo. */
export function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) { best = k; bestD = d; }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Plain JSON Schema for hosts: no $schema, no anyOf, enums as {type: string, enum}. */
export function jsonSchema(tool: ToolDef): Record<string, unknown> {
  const s = z.toJSONSchema(tool.params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete s.$schema;
  return strip(s) as Record<string, unknown>;
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) {
      if (k === "additionalProperties" && val === false) continue;
      // Integer bounds zod adds for safe integers are noise for the model.
      if ((k === "minimum" || k === "maximum") && Math.abs(val as number) >= Number.MAX_SAFE_INTEGER) continue;
      o[k] = strip(val);
    }
    return o;
  }
  return v;
}
