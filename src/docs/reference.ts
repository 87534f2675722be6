/** Generates docs/reference.md from the tool table (a test fails when the file is out of date). */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tools } from "../tools/table.js";
import { jsonSchema } from "../tools/define.js";

interface Prop { type?: string; enum?: string[]; description?: string; items?: { type?: string } }

/** The markdown of docs/reference.md. */
export function renderReference(): string {
  const out: string[] = [
    "# Tool reference",
    "",
    "<!-- Generated from src/tools/*.ts by `npm run docs`; do not edit by hand. -->",
    "",
    "Every tool is available inside pi / clanker (per role) and from the shell as",
    "`clanker-teams call <tool> '<json>' [--as NAME]`. Each returns a short text for",
    "the model and a `details` object (the CLI prints both as JSON).",
    "",
    "| tool | who | what |",
    "| --- | --- | --- |",
    ...tools.map((t) => `| [\`${t.name}\`](#${t.name}) | ${t.roles.join(", ")} | ${t.description} |`),
    "",
  ];
  for (const t of tools) {
    const s = jsonSchema(t) as { properties?: Record<string, Prop>; required?: string[] };
    out.push(`## ${t.name}`, "", t.description, "", `Available to: ${t.roles.join(", ")}.`, "");
    out.push("| parameter | type | required | notes |", "| --- | --- | --- | --- |");
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const type = p.enum ? p.enum.map((e) => `\`${e}\``).join(" \\| ") : p.type === "array" ? `${p.items?.type ?? "any"}[]` : p.type ?? "any";
      out.push(`| \`${k}\` | ${type} | ${s.required?.includes(k) ? "yes" : "no"} | ${(p.description ?? "").replace(/\|/g, "\\|")} |`);
    }
    out.push("", "Example:", "", "```sh", `clanker-teams call ${t.name} '${JSON.stringify(t.example).replace(/'/g, "'\\''")}'`, "```", "");
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
