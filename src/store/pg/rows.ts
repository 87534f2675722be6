/**
 * Rows in and out: every value read is checked against its schema (a row that
 * breaks it is named with the field and left in place, like a JSON file), every
 * value written is checked first (nothing half-valid reaches a database other
 * hosts read), and provisional task ids are replaced by the real ones.
 */
import { randomBytes } from "node:crypto";
import type { z } from "zod";
import { TeamsError } from "../../errors.js";
import type { Task, TaskSummary } from "../../schemas.js";

function issue(schema: z.ZodType, value: unknown): { field: string; message: string } | undefined {
  const r = schema.safeParse(value);
  if (r.success) return undefined;
  const first = r.error.issues[0];
  return { field: first.path.join(".") || "(root)", message: first.message };
}

/** Parses a stored value; INVALID_INPUT naming the row and field when it breaks the schema. */
export function fromRow<S extends z.ZodType>(schema: S, value: unknown, row: string, fix: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const bad = { field: first.path.join(".") || "(root)", message: first.message };
  throw new TeamsError("INVALID_INPUT", `${row}: ${bad.field}: ${bad.message}. The row was left as it is: fix that field (${fix}) and retry.`, { field: bad.field, row });
}

/** Checks a value before it is written: INVALID_INPUT naming the field; nothing is written. */
export function toRow<S extends z.ZodType>(schema: S, value: unknown, what: string): void {
  const bad = issue(schema, value);
  if (bad) throw new TeamsError("INVALID_INPUT", `${what}: ${bad.field}: ${bad.message}. Nothing was saved.`, { field: bad.field });
  checkStorable(value, what);
}

/** PostgreSQL's jsonb cannot hold NUL characters: say which field has one instead of a server error. */
export function checkStorable(value: unknown, what: string): void {
  const walk = (v: unknown, at: string): string | undefined => {
    if (typeof v === "string") return v.includes("\u0000") ? at : undefined;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) { const r = walk(v[i], `${at}.${i}`); if (r) return r; }
      return undefined;
    }
    if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes("\u0000")) return `${at}.${k}`;
        const r = walk(x, `${at}.${k}`);
        if (r) return r;
      }
    }
    return undefined;
  };
  const at = walk(value, "");
  if (at !== undefined) {
    const field = at.replace(/^\./, "") || "(root)";
    throw new TeamsError("INVALID_INPUT", `${what}: ${field} contains a NUL character, which PostgreSQL cannot store; remove it. Nothing was saved.`, { field });
  }
}

/** JSON for a jsonb parameter (objects and arrays must not reach node-postgres as such: it would make arrays SQL arrays). */
export const j = (v: unknown): string => JSON.stringify(v ?? null);

/** Provisional task ids for one call: unguessable tokens, replaced at commit by the real ids. */
export class Provisional {
  private readonly nonce = randomBytes(6).toString("hex");
  private n = 0;
  readonly tokens: string[] = [];
  next(): string {
    const t = `\u2063new-task-${this.nonce}-${this.n++}`;
    this.tokens.push(t);
    return t;
  }
}

/** Replaces every string equal to a key of `map` (deep, keys of objects untouched). */
export function replaceIds<T>(v: T, map: Map<string, string>): T {
  if (!map.size) return v;
  const walk = (x: unknown): unknown => {
    if (typeof x === "string") return map.get(x) ?? x;
    if (Array.isArray(x)) return x.map(walk);
    // fromEntries defines own properties: a key "__proto__" stays a key.
    if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, walk(val)]));
    return x;
  };
  return walk(v) as T;
}

/** The index row of a task (what listTasks returns). */
export function summaryOf(t: Task): TaskSummary {
  const s: TaskSummary = { id: t.id, subject: t.subject, status: t.status, blockedBy: [...t.blockedBy], blocks: [...t.blocks], createdAt: t.createdAt };
  if (t.owner) s.owner = t.owner;
  return s;
}

/** A task id as the tasks table's key, or undefined for a string that is no task id. */
export function taskKey(id: string): string | undefined {
  return /^[1-9][0-9]{0,17}$/.test(id) ? id : undefined;
}

/** Edges change only in transactions, so that a transaction's cycle check sees all of them. */
export function assertEdgesKept(before: Task, after: Task): void {
  if (before.blockedBy.join() !== after.blockedBy.join() || before.blocks.join() !== after.blocks.join()) {
    throw new TeamsError("CONFLICT", `task ${before.id}: dependencies change only in a transaction (internal error: editTask changed blocks/blockedBy).`);
  }
}
