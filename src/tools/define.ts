/** The shape of a tool in the one tool table, and how its input is validated. */
import { z } from "zod";
import type { Ctx } from "../context.js";
import { TeamsError } from "../errors.js";

export type Role = "lead" | "teammate";

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
  /** An example call for docs/reference.md. */
  example: z.input<S>;
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
