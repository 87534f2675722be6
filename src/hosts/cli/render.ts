/** What the CLI prints for people: colours, tables, the status board, event lines. Agent text only through text/safe.ts. */
import type { Ctx } from "../../context.js";
import { livenessOf } from "../../domain/presence.js";
import { listReservations } from "../../domain/reservations.js";
import { listTasks } from "../../domain/tasks.js";
import { readTeam } from "../../domain/teams.js";
import { TASK_STATUSES, type TeamEvent } from "../../schemas.js";
import { cell, cut, displayWidth, jsonForTerminal, padEnd, visible } from "../../text/safe.js";

// FORCE_COLOR (not "0") turns colour on even when stdout is not a terminal; otherwise NO_COLOR or TERM=dumb turn it off.
const useColor = () => (process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== "0" : process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb");
const paint = (code: string) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const c = { dim: paint("2"), bold: paint("1"), green: paint("32"), yellow: paint("33"), red: paint("31"), cyan: paint("36"), magenta: paint("35") };
const stateColor: Record<string, (s: string) => string> = { idle: c.green, busy: c.cyan, starting: c.yellow, stalled: c.yellow, error: c.red, dead: c.red, stopped: c.dim, unknown: c.dim };

/** Left-aligned columns, measured without color codes. Cells must already be made visible (text/safe.ts). */
export function table(rows: string[][]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((x, i) => (w[i] = Math.max(w[i] ?? 0, displayWidth(x))));
  return rows.map((r) => r.map((x, i) => (i === r.length - 1 ? x : padEnd(x, w[i]))).join("  ").trimEnd()).join("\n");
}

/** Widest a cell of agent text gets in a table or event line (the rest is cut with "…"; --json has it whole). */
export const MAX = { name: 24, model: 32, subject: 72, text: 100, json: 200 } as const;

/** The task's blockers that are not finished yet (completed or gone blockers no longer block). */
export function openBlockers(t: { blockedBy: string[] }, tasks: { id: string; status: string }[]): string[] {
  return t.blockedBy.filter((b) => tasks.some((x) => x.id === b && x.status !== "completed" && x.status !== "deleted"));
}

/** Everything `status` shows, as data. */
export async function statusData(ctx: Ctx, team: string) {
  const cfg = await readTeam(ctx, team);
  const tasks = await listTasks(ctx, team);
  const members = await Promise.all(cfg.members.map(async (m) => {
    const rt = await ctx.store.getPresence(team, m.name);
    const l = await livenessOf(ctx, rt);
    const current = tasks.find((t) => t.owner === m.name && (t.status === "in_progress" || t.status === "planning"));
    return {
      name: m.name, role: m.role, model: m.model ?? null, state: l.state, alive: l.alive, detail: l.reason, host: rt?.host ?? null,
      error: rt?.error ?? null, unread: await ctx.store.unreadCount(team, m.name), currentTask: current?.id ?? null, pane: m.pane ?? null, usage: rt?.usage ?? null,
    };
  }));
  const byStatus = Object.fromEntries(TASK_STATUSES.filter((s) => s !== "deleted").map((s) => [s, tasks.filter((t) => t.status === s)]));
  return { team: cfg.name, description: cfg.description ?? null, members, tasks: byStatus, reservations: await listReservations(ctx, team) };
}

export type StatusData = Awaited<ReturnType<typeof statusData>>;

export function renderStatus(d: StatusData): string {
  const out = [c.bold(`Team ${cell(d.team, MAX.name)}`) + (d.description ? c.dim(` — ${cell(d.description, MAX.text)}`) : "")];
  const hosts = new Set(d.members.map((m) => m.host).filter(Boolean));
  const used = d.members.some((m) => m.usage);
  out.push("", table([
    [c.dim("MEMBER"), c.dim("ROLE"), c.dim("STATE"), c.dim("UNREAD"), c.dim("TASK"), c.dim("MODEL"), ...(used ? [c.dim("USED")] : []), ...(hosts.size > 1 ? [c.dim("HOST")] : [])],
    ...d.members.map((m) => [
      cell(m.name, MAX.name), cell(m.role), (stateColor[m.state] ?? c.dim)(cell(m.state)), m.unread ? c.yellow(String(m.unread)) : "0",
      m.currentTask ? `#${cell(m.currentTask)}` : "-", m.model ? cell(m.model, MAX.model) : "-",
      ...(used ? [m.usage ? `${Math.round(Number(m.usage.tokens) || 0).toLocaleString("en-US")} tok $${(Number(m.usage.costUsd) || 0).toFixed(2)}` : "-"] : []),
      ...(hosts.size > 1 ? [m.host ? cell(m.host, MAX.name) : "-"] : []),
    ]),
  ]));
  for (const m of d.members) if (m.state === "error" && m.error) out.push(c.red(`${cell(m.name, MAX.name)}: ${cell(m.error, MAX.text)}`));
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
  if (d.reservations.length) {
    out.push("", c.bold("Reservations") + c.dim(` (${d.reservations.length})`), table([
      [c.dim("PATH"), c.dim("HOLDER"), c.dim("MODE"), c.dim("SINCE"), c.dim("REASON")],
      ...d.reservations.map((r) => [cell(r.path, MAX.subject), cell(r.holder, MAX.name), r.exclusive ? "exclusive" : "shared", cell(r.since.slice(11, 19)) + (r.expiresAt ? c.dim(` until ${cell(r.expiresAt.slice(11, 19))}`) : ""), r.reason ? cell(r.reason, MAX.text) : "-"]),
    ]));
  }
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
      case "reservation.added": return `${v(d.holder)} reserved ${list(d.paths)}${d.exclusive === false ? " (shared)" : ""}`;
      case "reservation.released": return `${v(d.holder)} released ${list(d.paths)}`;
      case "reservation.recovered": return `reservations of ${v(d.holder)} released: ${v(d.reason, MAX.text)}`;
      case "milestone.safe": return `checkpoint ${v(d.checkpoint)} of ${v(d.milestone)} is safe to finalize`;
      case "vote.closed": return `vote ${v(d.id)} closed: ${d.winner === null ? "no decision" : v(d.winner)}`;
      default: return cut(visible(jsonForTerminal(d)), MAX.json);
    }
  })();
  return `${c.dim(String(e.seq).padStart(5))} ${c.dim(time)} ${c.magenta(padEnd(v(e.actor), 12))} ${c.cyan(padEnd(v(e.kind, 40), 22))} ${what}`;
}
