/** Generates docs/reference.md from the tool table (a test fails when the file is out of date). */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tools } from "../tools/table.js";
import { jsonSchema, type ToolDef } from "../tools/define.js";

interface Prop { type?: string; enum?: string[]; description?: string; items?: { type?: string } }

/**
 * The reference's order: its examples run top to bottom as one session on a
 * fresh data dir (test/docs.test.ts), so a team exists before its tasks,
 * teammates before messages to them, and team_delete comes last.
 */
const ORDER = [
  "team_create", "read_config", "spawn_teammate", "check_teammate", "teammate_merge", "task_create", "task_list", "task_get",
  "file_reserve", "file_release", "milestone", "vote", "team_status", "task_claim", "task_release",
  "task_update", "task_submit_plan", "task_evaluate_plan", "send_message", "broadcast_message", "read_inbox", "wait_for_mail", "force_kill_teammate",
  "team_save_template", "process_shutdown_approved", "team_delete",
];

function inOrder(): ToolDef[] {
  const missing = tools.filter((t) => !ORDER.includes(t.name)).map((t) => t.name);
  if (missing.length) throw new Error(`src/docs/reference.ts: add ${missing.join(", ")} to ORDER`);
  return ORDER.map((n) => tools.find((t) => t.name === n)!).filter(Boolean);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** The markdown of docs/reference.md. */
export function renderReference(): string {
  const list = inOrder();
  const out: string[] = [
    "# Tool reference",
    "",
    "<!-- Generated from src/tools/*.ts by `npm run docs`; do not edit by hand. -->",
    "",
    "Every tool is available inside pi / clanker and over MCP (per role; see docs/hosts.md) and from the shell as",
    "`clanker-teams call <tool> '<json>' [--as NAME]`. Each returns a short text for",
    "the model and a `details` object (the CLI prints both as JSON). The examples",
    "form one session: run in order on a fresh data dir, each works as written.",
    "An unknown argument is refused, naming the closest known one (\"did you mean …\").",
    "",
    "| tool | who | what |",
    "| --- | --- | --- |",
    ...list.map((t) => `| [\`${t.name}\`](#${t.name}) | ${t.roles.join(", ")} | ${t.description} |`),
    "",
  ];
  for (const t of list) {
    const s = jsonSchema(t) as { properties?: Record<string, Prop>; required?: string[] };
    const where = t.hosts ? ` Offered by: ${t.hosts.map((h) => ({ pi: "the pi extension", mcp: "the MCP server", cli: "the CLI" })[h]).join(", ")} (docs/hosts.md).` : "";
    out.push(`## ${t.name}`, "", t.description, "", `Available to: ${t.roles.join(", ")}.${where}`, "");
    out.push("| parameter | type | required | notes |", "| --- | --- | --- | --- |");
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const type = p.enum ? p.enum.map((e) => `\`${e}\``).join(" \\| ") : p.type === "array" ? `${p.items?.type ?? "any"}[]` : p.type ?? "any";
      out.push(`| \`${k}\` | ${type} | ${s.required?.includes(k) ? "yes" : "no"} | ${(p.description ?? "").replace(/\|/g, "\\|")} |`);
    }
    const examples = [t.example, ...(t.moreExamples ?? [])];
    out.push("", examples.length > 1 ? "Examples:" : "Example:", "", "```sh", ...examples.map((e) => `clanker-teams call ${t.name} ${shellQuote(JSON.stringify(e))}`), "```", "");
  }
  return out.join("\n");
}

/** Path of docs/reference.md in this package. */
export function referencePath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/reference.md");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  fs.writeFileSync(referencePath(), renderReference());
  process.stdout.write(`wrote ${referencePath()}\n`);
}
