/** The clanker-teams command line: call any tool, list tools, show status, follow the event log. */
import fs from "node:fs";
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

const HELP: Record<string, string> = {
  main: `clanker-teams — agent teams for pi / clanker

Usage:
  clanker-teams call <tool> '<json>' [--as NAME]   run one tool, print its JSON result
  clanker-teams tools [--json]                       list the tools and their parameters
  clanker-teams status [team] [--json]               members, tasks by status, unread counts
  clanker-teams watch <team> [--from SEQ] [--json]   follow the team's event log live
  clanker-teams demo [--keep] [--pi 0.55]            run a scripted demo team in tmux (no API key)

Each command takes --help. Data lives in $CLANKER_TEAMS_DIR (default ~/.clanker).
Your identity: --as NAME, else $CLANKER_AGENT_NAME, else team-lead.`,
  call: `Usage: clanker-teams call <tool> '<json>' [--as NAME]

Runs one tool with JSON arguments and prints {"ok":true,"text":...,"details":...}.
Bad input prints a message on stderr and exits 1. Arguments may also come on stdin ('-').
Example: clanker-teams call task_list '{"team_name":"demo"}'`,
  tools: `Usage: clanker-teams tools [--json]

Lists every tool with its description and parameters; --json prints the JSON schemas.`,
  status: `Usage: clanker-teams status [team] [--json]

Shows each team's members (state from their heartbeats), tasks by status and unread counts.`,
  watch: `Usage: clanker-teams watch <team> [--from SEQ] [--json]

Prints the team's events as they happen (Ctrl-C to stop). --from 0 replays the whole log.`,
  demo: `Usage: clanker-teams demo [--keep] [--pi 0.73|0.55]

Runs a real lead and two teammates (pi with a scripted model, no key or network)
in tmux on a throwaway repo and data dir, shows a live board, and exits non-zero
if any step did not happen. --keep leaves the panes running at the end;
--pi 0.55 uses the older bundled pi (clanker's base).`,
};

interface Parsed { args: string[]; flags: Record<string, string | boolean> }

function parse(argv: string[]): Parsed {
  const args: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { args.push(...argv.slice(i + 1)); break; }
    if (a === "--as" || a === "--from" || a === "--pi") {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      flags[a.slice(2)] = argv[++i];
    } else if (a.startsWith("--as=") || a.startsWith("--from=") || a.startsWith("--pi=")) {
      const [k, v] = a.slice(2).split(/=(.*)/s);
      flags[k] = v;
    } else if (a === "-h" || a === "--help") flags.help = true;
    else if (a.startsWith("--")) flags[a.slice(2)] = true;
    else args.push(a);
  }
  return { args, flags };
}

const useColor = () => process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb";
const paint = (code: string) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
const c = { dim: paint("2"), bold: paint("1"), green: paint("32"), yellow: paint("33"), red: paint("31"), cyan: paint("36"), magenta: paint("35") };
const stateColor: Record<string, (s: string) => string> = { idle: c.green, busy: c.cyan, starting: c.yellow, stalled: c.yellow, dead: c.red, stopped: c.dim, unknown: c.dim };

/** Left-aligned columns, measured without color codes. */
export function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const w: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (w[i] = Math.max(w[i] ?? 0, width(cell))));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(w[i] - width(cell)))).join("  ").trimEnd()).join("\n");
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
  const out = [c.bold(`Team ${d.team}`) + (d.description ? c.dim(` — ${d.description}`) : "")];
  out.push("", table([
    [c.dim("MEMBER"), c.dim("ROLE"), c.dim("STATE"), c.dim("UNREAD"), c.dim("TASK"), c.dim("MODEL")],
    ...d.members.map((m) => [m.name, m.role, (stateColor[m.state] ?? c.dim)(m.state), m.unread ? c.yellow(String(m.unread)) : "0", m.currentTask ? `#${m.currentTask}` : "-", m.model ?? "-"]),
  ]));
  const rows: string[][] = [];
  for (const [status, list] of Object.entries(d.tasks)) for (const t of list) rows.push([`#${t.id}`, status, t.owner ?? "-", t.subject + (t.blockedBy.length ? c.dim(` (blocked by ${t.blockedBy.map((b) => "#" + b).join(", ")})`) : "")]);
  const counts = Object.entries(d.tasks).map(([s, l]) => `${s} ${l.length}`).join(", ");
  out.push("", c.bold("Tasks") + c.dim(` (${counts})`));
  if (rows.length) out.push(table([[c.dim("ID"), c.dim("STATUS"), c.dim("OWNER"), c.dim("SUBJECT")], ...rows]));
  return out.join("\n");
}

/** One event as a terminal line. */
export function formatEvent(e: TeamEvent): string {
  const d = e.data as Record<string, unknown>;
  const time = e.time.slice(11, 19);
  const what = (() => {
    switch (e.kind) {
      case "message.sent": return `${d.from} → ${d.to}: ${d.summary}`;
      case "message.broadcast": return `${d.from} → everyone: ${d.summary}`;
      case "task.created": return `task #${d.id} created: ${d.subject}${d.owner ? ` (owner ${d.owner})` : ""}`;
      case "task.updated": return `task #${d.id} ${(d.changed as string[]).join(", ")} → ${d.status}${d.owner ? ` (${d.owner})` : ""}`;
      case "task.claimed": return `task #${d.id} claimed by ${d.owner}`;
      case "task.recovered": return `tasks ${(d.ids as string[]).map((i) => "#" + i).join(", ")} back to pending: ${d.reason}`;
      default: return JSON.stringify(d);
    }
  })();
  return `${c.dim(String(e.seq).padStart(5))} ${c.dim(time)} ${c.magenta(e.actor.padEnd(12))} ${c.cyan(e.kind.padEnd(22))} ${what}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const ch of process.stdin) chunks.push(ch as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try { p = parse(argv); } catch (e) { process.stderr.write(`clanker-teams: ${(e as Error).message}\n`); return 1; }
  const [cmd, ...rest] = p.args;
  if (!cmd || cmd === "help") { process.stdout.write(HELP.main + "\n"); return cmd || p.flags.help ? 0 : 1; }
  if (p.flags.help) { process.stdout.write((HELP[cmd] ?? HELP.main) + "\n"); return HELP[cmd] ? 0 : 1; }
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
        process.stdout.write(JSON.stringify({ ok: true, text: r.text, details: r.details }, null, 2) + "\n");
        return 0;
      }
      case "tools": {
        if (p.flags.json) process.stdout.write(JSON.stringify(tools.map((t) => ({ name: t.name, description: t.description, roles: t.roles, parameters: jsonSchema(t) })), null, 2) + "\n");
        else for (const t of tools) {
          const s = jsonSchema(t) as { properties?: Record<string, unknown>; required?: string[] };
          const params = Object.keys(s.properties ?? {}).map((k) => (s.required?.includes(k) ? k : `${k}?`)).join(", ");
          process.stdout.write(`${c.bold(t.name)}(${params})\n  ${t.description}\n`);
        }
        return 0;
      }
      case "status": {
        const teams = rest[0] ? [rest[0]] : listTeams(ctx);
        const data = teams.map((t) => statusData(ctx, t));
        if (p.flags.json) process.stdout.write(JSON.stringify(rest[0] ? data[0] : data, null, 2) + "\n");
        else process.stdout.write((data.length ? data.map(renderStatus).join("\n\n") : `No teams in ${ctx.paths.root}. Create one with: clanker-teams call team_create '{"team_name":"my-team"}'`) + "\n");
        return 0;
      }
      case "watch": {
        const team = rest[0];
        if (!team) throw new Error("watch needs a team name; `clanker-teams status` lists the teams");
        readTeam(ctx, team);
        let last = typeof p.flags.from === "string" ? Math.max(0, Number(p.flags.from) || 0) : Math.max(0, (readEvents(ctx, team).at(-1)?.seq ?? 0) - 10);
        if (!p.flags.json) process.stderr.write(c.dim(`Following ${ctx.paths.events(team)} (Ctrl-C to stop)\n`));
        const tick = () => {
          for (const e of readEvents(ctx, team, last)) {
            last = e.seq;
            process.stdout.write((p.flags.json ? JSON.stringify(e) : formatEvent(e)) + "\n");
          }
        };
        tick();
        const dir = ctx.paths.teamDir(team);
        let watcher: fs.FSWatcher | undefined;
        try { watcher = fs.watch(dir, () => tick()); } catch { /* poll only */ }
        const timer = setInterval(() => {
          if (!fs.existsSync(dir)) { process.stderr.write(`team ${team} was deleted\n`); clearInterval(timer); watcher?.close(); }
          else tick();
        }, 1000);
        await new Promise<void>((resolve) => { process.once("SIGINT", resolve); process.once("SIGTERM", resolve); });
        clearInterval(timer);
        watcher?.close();
        return 0;
      }
      case "demo": {
        const { runDemo } = await import("../demo/run.js");
        return await runDemo({ keep: !!p.flags.keep, pi: typeof p.flags.pi === "string" ? p.flags.pi : undefined });
      }
      default:
        process.stderr.write(`clanker-teams: unknown command "${cmd}"\n\n${HELP.main}\n`);
        return 1;
    }
  } catch (e) {
    const msg = isTeamsError(e) ? `${e.message}` : (e as Error).message;
    process.stderr.write(`clanker-teams: ${msg}\n`);
    if (!isTeamsError(e) && process.env.CLANKER_TEAMS_DEBUG) process.stderr.write(String((e as Error).stack) + "\n");
    return 1;
  }
}
