/**
 * Team templates: a YAML file naming the members a team starts with (role
 * prompt, model, thinking, plan mode, isolation, budget, agent kind) and team
 * settings. Looked up as `.clanker/teams/<name>.yaml` in the repository, then
 * `<data dir>/templates/<name>.yaml`. A template that breaks the schema is
 * refused with the file, the line and the field, and how to fix it.
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { LineCounter, parseDocument, stringify, isMap, isSeq, type Document } from "yaml";
import { z } from "zod";
import { TeamsError, invalid } from "../errors.js";
import { validateName } from "../names.js";
import { THINKING_LEVELS } from "../schemas.js";

export const AGENT_KINDS = ["pi", "clanker", "claude", "codex", "gemini", "opencode"] as const;

export const BudgetSchema = z.strictObject({
  tokens: z.number().int().positive().optional().describe("Input + output tokens"),
  cost_usd: z.number().positive().optional().describe("Cost in US dollars, as the host reports it"),
}).refine((b) => b.tokens !== undefined || b.cost_usd !== undefined, { message: "give tokens or cost_usd (or both)" });
export type Budget = z.infer<typeof BudgetSchema>;

const MemberShape = {
  model: z.string().min(1).max(200).optional(),
  thinking: z.enum(THINKING_LEVELS).optional(),
  plan_mode_required: z.boolean().optional(),
  isolation: z.enum(["shared", "worktree"]).optional(),
  budget: BudgetSchema.optional(),
  agent: z.enum(AGENT_KINDS).optional(),
};

export const TemplateMemberSchema = z.strictObject({
  name: z.string().min(1),
  prompt: z.string().min(1).max(64 * 1024),
  cwd: z.string().min(1).optional(),
  ...MemberShape,
});

export const TemplateSchema = z.strictObject({
  description: z.string().max(2000).optional(),
  /** Settings every member gets unless it names its own. */
  defaults: z.strictObject(MemberShape).optional(),
  /** Team budget: all members together. */
  budget: BudgetSchema.optional(),
  /** Where teammates' worktrees go (default: the data directory's worktrees/). */
  worktree_dir: z.string().min(1).optional(),
  /** A teammate idle this long with an in_progress task is nudged (default 180). */
  stuck_after_s: z.number().int().min(10).max(86_400).optional(),
  /** Reserve a file for a teammate on its first edit. */
  auto_reserve: z.boolean().optional(),
  members: z.array(TemplateMemberSchema).min(1).max(32),
});
export type Template = z.infer<typeof TemplateSchema>;
export type TemplateMember = z.infer<typeof TemplateMemberSchema>;

/** The line (1-based) of the value at `pathParts` in a parsed document, or of the nearest parent that exists. */
function lineOf(doc: Document, lc: LineCounter, pathParts: PropertyKey[]): number | undefined {
  for (let n = pathParts.length; n >= 0; n--) {
    const node = doc.getIn(pathParts.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Parses and validates a template; errors name the file, the line and the field. */
export function parseTemplate(text: string, file: string): Template {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    throw new TeamsError("INVALID_INPUT", `${file}${line ? `:${line}` : ""}: not valid YAML (${e.message.split("\n")[0]}); fix the file and retry.`, { file, line });
  }
  const value = doc.toJS({ maxAliasCount: 50 }) as unknown;
  if (!isMap(doc.contents)) throw new TeamsError("INVALID_INPUT", `${file}: a team template is a mapping with at least "members:" (a list of {name, prompt}); see docs/guide.md, "Team templates".`, { file });
  const r = TemplateSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join(".") || "(root)";
    const keys = issue.code === "unrecognized_keys" ? (issue as { keys: string[] }).keys : [];
    const at = keys.length ? [...issue.path, keys[0]] : issue.path;
    const line = lineOf(doc, lc, at as PropertyKey[]);
    const what = keys.length ? `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}${field === "(root)" ? "" : ` in ${field}`}; the keys are ${knownKeys(issue.path).join(", ")}` : `${field}: ${issue.message}`;
    throw new TeamsError("INVALID_INPUT", `${file}${line ? `:${line}` : ""}: ${what}. Fix the template and retry.`, { file, line, field });
  }
  const t = r.data;
  const seen = new Map<string, number>();
  t.members.forEach((m, i) => {
    const line = lineOf(doc, lc, ["members", i, "name"]);
    try {
      m.name = validateName(`members.${i}.name`, m.name);
    } catch (e) {
      throw new TeamsError("INVALID_INPUT", `${file}${line ? `:${line}` : ""}: ${(e as Error).message}`, { file, line, field: `members.${i}.name` });
    }
    const k = m.name.toLowerCase();
    if (seen.has(k)) throw new TeamsError("INVALID_INPUT", `${file}${line ? `:${line}` : ""}: members.${i}.name: "${m.name}" appears twice (also members.${seen.get(k)}); names must differ.`, { file, line });
    seen.set(k, i);
  });
  if (!isSeq(doc.get("members", true))) throw invalid(`${file}: members`, "must be a list");
  return t;
}

function knownKeys(at: PropertyKey[]): string[] {
  const shape = at.length === 0 ? TemplateSchema.shape : at[0] === "defaults" ? MemberShape : at[0] === "members" ? TemplateMemberSchema.shape : at.includes("budget") ? { tokens: 1, cost_usd: 1 } : {};
  return Object.keys(shape);
}

/** A member with the template's defaults filled in. */
export function withDefaults(t: Template, m: TemplateMember): TemplateMember {
  return { ...t.defaults, ...m } as TemplateMember;
}

function repoTop(cwd: string): string {
  try {
    return execFileSync("git", ["rev-parse", "--show-toplevel"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || cwd;
  } catch {
    return cwd;
  }
}

/** Where a template of that name is looked for, in order. */
export function templatePaths(name: string, opts: { cwd: string; dataDir: string }): string[] {
  const n = validateName("template", name);
  const repo = repoTop(opts.cwd);
  return [
    path.join(repo, ".clanker", "teams", `${n}.yaml`),
    path.join(repo, ".clanker", "teams", `${n}.yml`),
    path.join(opts.dataDir, "templates", `${n}.yaml`),
  ];
}

/** Finds and parses a template, or NOT_FOUND naming where it looked. */
export function loadTemplate(name: string, opts: { cwd: string; dataDir: string }): { file: string; template: Template } {
  const places = templatePaths(name, opts);
  for (const file of places) {
    let text: string;
    try {
      const st = fs.lstatSync(file);
      if (!st.isFile()) throw new TeamsError("INVALID_INPUT", `${file} is not a regular file (a link or a directory); a template must be a plain YAML file.`, { file });
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    return { file, template: parseTemplate(text, file) };
  }
  throw new TeamsError("NOT_FOUND", `template: no template "${name}"; looked in ${places.join(", ")}. Write one (docs/guide.md, "Team templates") or save a running team's with team_save_template.`, { places });
}

/** Writes a template as YAML (creating its directory); refuses to overwrite unless asked. */
export function saveTemplate(t: Template, file: string, opts: { overwrite?: boolean } = {}): void {
  TemplateSchema.parse(t);
  if (!opts.overwrite && fs.existsSync(file)) throw new TeamsError("CONFLICT", `${file} exists; choose another name or remove it first.`, { file });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = `# clanker-teams team template (docs/guide.md, "Team templates")\n${stringify(t, { lineWidth: 0 })}`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644, flag: "wx" });
  fs.renameSync(tmp, file);
}
