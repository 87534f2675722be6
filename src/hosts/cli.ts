/** The clanker-teams command line: call any tool, list tools, show status, follow the event log. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeCtx, type Ctx } from "../context.js";
import { isTeamsError } from "../errors.js";
import { readEvents } from "../events.js";
import { runCompletionHook } from "../hooks.js";
import { listTeams, readTeam } from "../teams.js";
import { listTasks } from "../tasks.js";
import { unreadCount } from "../messages.js";
import { liveness, readPresence } from "../presence.js";
import { callTool, getTool, tools } from "../tools/table.js";
import { jsonSchema } from "../tools/define.js";
import { TASK_STATUSES, type TeamEvent } from "../schemas.js";
import { cell, cut, displayWidth, jsonForTerminal, padEnd, visible, visibleBlock } from "../text/safe.js";

const HELP: Record<string, string> = {
  main: `clanker-teams — agent teams for pi / clanker

Usage:
  clanker-teams call <tool> '<json>' [--as NAME]   run one tool, print its JSON result
  clanker-teams tools [--json]                       list the tools and their parameters
  clanker-teams status [team] [--json]               members, tasks by status, unread counts
  clanker-teams watch <team> [--from SEQ] [--json]   follow the team's event log live
  clanker-teams demo [--keep] [--pi 0.73|0.55]       run a scripted demo team in tmux (no API key)
  clanker-teams --version                            print the version

Each command takes --help (or: clanker-teams help <command>). Unknown options are refused.
Data lives in $CLANKER_TEAMS_DIR (default ~/.clanker).
Your identity: --as NAME, else $CLANKER_AGENT_NAME, else team-lead.
Text written by agents is shown with control characters escaped (\\x1b, \\n, \\u202e).`,
  call: `Usage: clanker-teams call <tool> '<json>' [--as NAME]

Runs one tool with JSON arguments and prints {"ok":true,"text":...,"details":...}.
Bad input prints a message on stderr and exits 1. Arguments may also come on stdin ('-').
Example: clanker-teams call task_list '{"team_name":"demo"}'`,
  tools: `Usage: clanker-teams tools [--json]

Lists every tool with its description and parameters; --json prints the JSON schemas.`,
  status: `Usage: clanker-teams status [team] [--json]

Shows each team's members (state from their heartbeats), tasks by status (with
their unfinished blockers) and unread counts. Long text is cut with "…"; --json
prints everything whole.`,
  watch: `Usage: clanker-teams watch <team> [--from SEQ] [--json]

Prints the team's events as they happen (Ctrl-C to stop), starting with the
last 10. --from SEQ starts after event SEQ; --from 0 replays the whole log.
--json prints each event as one JSON line.`,
  demo: `Usage: clanker-teams demo [--keep] [--pi 0.73|0.55]

Runs a real lead and two teammates (pi with a scripted model, no key or network)
in a private tmux server on a throwaway repo and data dir, shows a live board,
and exits non-zero if any step did not happen. At the end (and on Ctrl-C or
SIGTERM at any time) it stops every agent and the tmux server and removes its
temp dir; a failed run keeps the temp dir for inspection. --keep leaves the tmux
server and temp dir at the end and says which panes still run; --pi 0.55 uses
the older bundled pi (clanker's base).`,
};

/** Options each command takes: flags with a value, and flags without. */
const OPTIONS: Record<string, { values: string[]; bools: string[]; maxArgs: number; argsHint: string }> = {
  call: { values: ["as"], bools: [], maxArgs: 2, argsHint: "a tool name and its JSON arguments" },
  tools: { values: [], bools: ["json"], maxArgs: 0, argsHint: "no arguments" },
  status: { values: [], bools: ["json"], maxArgs: 1, argsHint: "at most one team name" },
  watch: { values: ["from"], bools: ["json"], maxArgs: 1, argsHint: "one team name" },
  demo: { values: ["pi"], bools: ["keep"], maxArgs: 0, argsHint: "no arguments" },
  help: { values: [], bools: [], maxArgs: 1, argsHint: "at most one command name" },
};
const COMMANDS = Object.keys(OPTIONS);
const VALUE_FLAGS = new Set(Object.values(OPTIONS).flatMap((o) => o.values));
const GLOBAL_FLAGS = ["help", "version"];

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

interface Parsed { args: string[]; flags: Record<string, string | boolean> }

/** Splits argv into positional arguments and flags; every flag must be one the command takes. */
function parse(argv: string[]): Parsed {
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
      if (VALUE_FLAGS.has(name)) {
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
  const cmd = args[0];
  const known = cmd !== undefined && OPTIONS[cmd] ? [...OPTIONS[cmd].values, ...OPTIONS[cmd].bools] : [...new Set(Object.values(OPTIONS).flatMap((o) => [...o.values, ...o.bools]))];
  for (const name of seen) {
    if (GLOBAL_FLAGS.includes(name) || known.includes(name)) continue;
    const list = known.length ? `; it takes ${known.map((k) => "--" + k).join(", ")}` : "; it takes no options";
    const hint = didYouMean(name, [...known, ...GLOBAL_FLAGS], (k) => `--${k}`);
    const where = cmd !== undefined && OPTIONS[cmd] ? ` for ${cmd}` : "";
    throw new Error(`unknown option --${visible(name)}${where}${hint || list}`);
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

// FORCE_COLOR (not "0") turns colour on even when stdout is not a terminal; otherwise NO_COLOR or TERM=dumb turn it off.
const useColor = () => (process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== "0" : process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb");
const paint = (code: string) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
const c = { dim: paint("2"), bold: paint("1"), green: paint("32"), yellow: paint("33"), red: paint("31"), cyan: paint("36"), magenta: paint("35") };
const stateColor: Record<string, (s: string) => string> = { idle: c.green, busy: c.cyan, starting: c.yellow, stalled: c.yellow, dead: c.red, stopped: c.dim, unknown: c.dim };

/** Left-aligned columns, measured without color codes. Cells must already be made visible (text/safe.ts). */
export function table(rows: string[][]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, displayWidth(c))));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : padEnd(c, w[i]))).join("  ").trimEnd()).join("\n");
}

/** Widest a cell of agent text gets in a table or event line (the rest is cut with "…"; --json has it whole). */
export const MAX = { name: 24, model: 32, subject: 72, text: 100, json: 200 } as const;

/** The task's blockers that are not finished yet (completed or gone blockers no longer block). */
export function openBlockers(t: { blockedBy: string[] }, tasks: { id: string; status: string }[]): string[] {
  return t.blockedBy.filter((b) => tasks.some((x) => x.id === b && x.status !== "completed" && x.status !== "deleted"));
}

/** Everything `status` shows, as data. */
export function statusData(ctx: Ctx, team: string) {
  const cfg = readTeam(ctx, team);
  const now = ctx.now();
  const tasks = listTasks(ctx, team);
  const members = cfg.members.map((m) => {
    const rt = readPresence(ctx, team, m.name);
    const l = liveness(rt, now);
    const current = tasks.find((t) => t.owner === m.name && (t.status === "in_progress" || t.status === "planning"));
    return { name: m.name, role: m.role, model: m.model ?? null, state: rt ? l.state : m.role === "lead" ? "unknown" : "unknown", alive: l.alive, detail: l.reason, unread: unreadCount(ctx, team, m.name), currentTask: current?.id ?? null, pane: m.pane ?? null };
  });
  const byStatus = Object.fromEntries(TASK_STATUSES.filter((s) => s !== "deleted").map((s) => [s, tasks.filter((t) => t.status === s)]));
  return { team: cfg.name, description: cfg.description ?? null, members, tasks: byStatus };
}

function renderStatus(d: ReturnType<typeof statusData>): string {
  const out = [c.bold(`Team ${cell(d.team, MAX.name)}`) + (d.description ? c.dim(` — ${cell(d.description, MAX.text)}`) : "")];
  out.push("", table([
    [c.dim("MEMBER"), c.dim("ROLE"), c.dim("STATE"), c.dim("UNREAD"), c.dim("TASK"), c.dim("MODEL")],
    ...d.members.map((m) => [cell(m.name, MAX.name), cell(m.role), (stateColor[m.state] ?? c.dim)(cell(m.state)), m.unread ? c.yellow(String(m.unread)) : "0", m.currentTask ? `#${cell(m.currentTask)}` : "-", m.model ? cell(m.model, MAX.model) : "-"]),
  ]));
  const all = Object.values(d.tasks).flat();
  const rows: string[][] = [];
  for (const [status, list] of Object.entries(d.tasks)) {
    for (const t of list) {
      const open = openBlockers(t, all);
      rows.push([`#${cell(t.id)}`, status, t.owner ? cell(t.owner, MAX.name) : "-", cell(t.subject, MAX.subject) + (open.length ? c.dim(` (blocked by ${open.map((b) => "#" + cell(b)).join(", ")})`) : "")]);
    }
  }
  const counts = Object.entries(d.tasks).map(([s, l]) => `${s} ${l.length}`).join(", ");
  out.push("", c.bold("Tasks") + c.dim(` (${counts})`));
  if (rows.length) out.push(table([[c.dim("ID"), c.dim("STATUS"), c.dim("OWNER"), c.dim("SUBJECT")], ...rows]));
  return out.join("\n");
}

/** One event as a terminal line; every value from the event is made visible and long text is cut. */
export function formatEvent(e: TeamEvent): string {
  const d = e.data as Record<string, unknown>;
  const v = (x: unknown, max: number = MAX.name) => cell(x, max);
  const list = (x: unknown, prefix = "") => (Array.isArray(x) ? x.map((i) => prefix + v(i)).join(", ") : v(x));
  const time = v(String(e.time).slice(11, 19));
  const what = (() => {
    switch (e.kind) {
      case "message.sent": return `${v(d.from)} → ${v(d.to)}: ${v(d.summary, MAX.text)}`;
      case "message.broadcast": return `${v(d.from)} → everyone: ${v(d.summary, MAX.text)}`;
      case "task.created": return `task #${v(d.id)} created: ${v(d.subject, MAX.subject)}${d.owner ? ` (owner ${v(d.owner)})` : ""}`;
      case "task.updated": return `task #${v(d.id)} ${list(d.changed)} → ${v(d.status)}${d.owner ? ` (${v(d.owner)})` : ""}`;
      case "task.claimed": return `task #${v(d.id)} claimed by ${v(d.owner)}`;
      case "task.recovered": return `tasks ${list(d.ids, "#")} back to pending: ${v(d.reason, MAX.text)}`;
      default: return cut(visible(jsonForTerminal(d)), MAX.json);
    }
  })();
  return `${c.dim(String(e.seq).padStart(5))} ${c.dim(time)} ${c.magenta(padEnd(v(e.actor), 12))} ${c.cyan(padEnd(v(e.kind, 40), 22))} ${what}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const ch of process.stdin) chunks.push(ch as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const fail = (msg: string) => { process.stderr.write(`clanker-teams: ${visibleBlock(msg)}\n`); return 1; };

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try { p = parse(argv); } catch (e) { return fail((e as Error).message); }
  if (p.flags.version) { process.stdout.write(packageVersion() + "\n"); return 0; }
  let [cmd, ...rest] = p.args;
  if (cmd === "help" && rest.length) { p.flags.help = true; [cmd, ...rest] = rest; }
  if (cmd !== undefined && !OPTIONS[cmd]) return fail(`unknown command "${visible(cmd)}"${didYouMean(cmd, COMMANDS.filter((x) => x !== "help")) || `; commands: ${COMMANDS.join(", ")}`} (clanker-teams --help)`);
  if (!cmd || cmd === "help") { process.stdout.write(HELP.main + "\n"); return cmd || p.flags.help ? 0 : 1; }
  if (p.flags.help) { process.stdout.write(HELP[cmd] + "\n"); return 0; }
  const o = OPTIONS[cmd];
  if (rest.length > o.maxArgs) return fail(`${cmd} takes ${o.argsHint}; got ${rest.length}: ${rest.map((a) => JSON.stringify(visible(a))).join(" ")} (clanker-teams ${cmd} --help)`);
  const ctx = makeCtx({ actor: typeof p.flags.as === "string" ? p.flags.as : undefined, runHook: runCompletionHook });
  try {
    switch (cmd) {
      case "call": {
        const [name, json] = rest;
        if (!name) throw new Error("call needs a tool name; `clanker-teams tools` lists them");
        getTool(name);
        let raw: unknown = {};
        const text = json === "-" ? await readStdin() : json;
        if (text !== undefined && text.trim()) {
          try { raw = JSON.parse(text); } catch (e) { throw new Error(`arguments are not valid JSON (${(e as Error).message}); quote them, e.g. '{"team_name":"demo"}'`); }
        }
        const r = await callTool(ctx, name, raw);
        process.stdout.write(jsonForTerminal({ ok: true, text: r.text, details: r.details }, 2) + "\n");
        return 0;
      }
      case "tools": {
        if (p.flags.json) process.stdout.write(jsonForTerminal(tools.map((t) => ({ name: t.name, description: t.description, roles: t.roles, parameters: jsonSchema(t) })), 2) + "\n");
        else for (const t of tools) {
          const s = jsonSchema(t) as { properties?: Record<string, unknown>; required?: string[] };
          const params = Object.keys(s.properties ?? {}).map((k) => visible(s.required?.includes(k) ? k : `${k}?`)).join(", ");
          process.stdout.write(`${c.bold(visible(t.name))}(${params})\n  ${visibleBlock(t.description).replace(/\n/g, "\n  ")}\n`);
        }
        return 0;
      }
      case "status": {
        const teams = rest[0] ? [rest[0]] : listTeams(ctx);
        const data = teams.map((t) => statusData(ctx, t));
        if (p.flags.json) process.stdout.write(jsonForTerminal(rest[0] ? data[0] : data, 2) + "\n");
        else process.stdout.write((data.length ? data.map(renderStatus).join("\n\n") : `No teams in ${visible(ctx.paths.root)}. Create one with: clanker-teams call team_create '{"team_name":"my-team"}'`) + "\n");
        return 0;
      }
      case "watch": {
        const team = rest[0];
        if (!team) throw new Error("watch needs a team name; `clanker-teams status` lists the teams");
        const from = p.flags.from;
        if (typeof from === "string" && !/^\d+$/.test(from)) throw new Error(`--from: must be an event number (0 or more), got ${JSON.stringify(visible(from))}; --from 0 replays the whole log`);
        readTeam(ctx, team);
        let last = typeof from === "string" ? Number(from) : Math.max(0, (readEvents(ctx, team).at(-1)?.seq ?? 0) - 10);
        if (!p.flags.json) process.stderr.write(c.dim(`Following ${visible(ctx.paths.events(team))} (Ctrl-C to stop)`) + "\n");
        const tick = () => {
          for (const e of readEvents(ctx, team, last)) {
            last = e.seq;
            process.stdout.write((p.flags.json ? jsonForTerminal(e) : formatEvent(e)) + "\n");
          }
        };
        tick();
        const dir = ctx.paths.teamDir(team);
        let watcher: fs.FSWatcher | undefined;
        try { watcher = fs.watch(dir, () => tick()); } catch { /* poll only */ }
        const timer = setInterval(() => {
          if (!fs.existsSync(dir)) { process.stderr.write(`team ${visible(team)} was deleted\n`); clearInterval(timer); watcher?.close(); }
          else tick();
        }, 1000);
        await new Promise<void>((resolve) => { process.once("SIGINT", resolve); process.once("SIGTERM", resolve); });
        clearInterval(timer);
        watcher?.close();
        return 0;
      }
      case "demo": {
        const pi = p.flags.pi;
        if (typeof pi === "string" && pi !== "0.73" && pi !== "0.55") throw new Error(`--pi: must be 0.73 or 0.55 (the bundled pi versions), got ${JSON.stringify(visible(pi))}`);
        const { runDemo } = await import("../demo/run.js");
        return await runDemo({ keep: !!p.flags.keep, pi: typeof pi === "string" ? pi : undefined });
      }
      default:
        return fail(`unknown command "${visible(cmd)}"`);
    }
  } catch (e) {
    const code = fail(isTeamsError(e) ? `${e.message}` : (e as Error).message);
    if (!isTeamsError(e) && process.env.CLANKER_TEAMS_DEBUG) process.stderr.write(visibleBlock(String((e as Error).stack)) + "\n");
    return code;
  }
}
