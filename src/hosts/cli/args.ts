/** Command-line parsing: flags each command takes, "did you mean", the package version. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { visible } from "../../text/safe.js";
import { GLOBAL_BOOLS, GLOBAL_VALUES, type Command, type Parsed } from "./command.js";

/** Edit distance (with transpositions) between a and b. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `known` to `word` if it is close enough to be a typo, as ` did you mean "x"?`, else "". */
export function didYouMean(word: string, known: string[], quote = (k: string) => `"${k}"`): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.startsWith(word) && word.length >= 2 ? 1 : distance(word.toLowerCase(), k);
    if (dist < bestD) { best = k; bestD = dist; }
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(2, Math.floor(best.length / 3))) ? `; did you mean ${quote(best)}?` : "";
}

/** Splits argv into positional arguments and flags; every flag must be one the command (or every command) takes. */
export function parse(argv: string[], commands: ReadonlyMap<string, Command>): Parsed {
  const valueFlags = new Set([...GLOBAL_VALUES, ...[...commands.values()].flatMap((c) => c.values ?? [])]);
  const args: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const seen: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { args.push(...argv.slice(i + 1)); break; }
    if (a === "-h") flags.help = true;
    else if (a === "-V") flags.version = true;
    else if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (valueFlags.has(name)) {
        if (eq >= 0) flags[name] = a.slice(eq + 1);
        else if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
        else flags[name] = argv[++i];
      } else {
        if (eq >= 0) throw new Error(`--${visible(name)} takes no value (got ${JSON.stringify(visible(a.slice(eq + 1)))})`);
        flags[name] = true;
      }
      seen.push(name);
    } else if (a.startsWith("-") && a !== "-") throw new Error(`unknown option ${JSON.stringify(visible(a))}; options are written --name (see --help)`);
    else args.push(a);
  }
  if (flags.help || flags.version) return { args, flags };
  const cmd = args[0] !== undefined ? commands.get(args[0]) : undefined;
  const own = cmd ? [...(cmd.values ?? []), ...(cmd.bools ?? [])] : [...new Set([...commands.values()].flatMap((o) => [...(o.values ?? []), ...(o.bools ?? [])]))];
  const known = [...own, ...GLOBAL_VALUES];
  for (const name of seen) {
    if (GLOBAL_BOOLS.includes(name) || known.includes(name)) continue;
    const list = `; it takes ${known.map((k) => "--" + k).join(", ")}`;
    const hint = didYouMean(name, [...known, ...GLOBAL_BOOLS], (k) => `--${k}`);
    throw new Error(`unknown option --${visible(name)}${cmd ? ` for ${cmd.name}` : ""}${hint || list}`);
  }
  return { args, flags };
}

/** The version in this package's package.json. */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = path.join(dir, "package.json");
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "clanker-teams" && pkg.version) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}

/** Reads all of stdin. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const ch of process.stdin) chunks.push(ch as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
