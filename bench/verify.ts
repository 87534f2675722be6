/**
 * Correctness checks run after every scenario: through the store (what every
 * reader sees) and, for the JSON store, in the documented files too (derived
 * from the log; current once the writers have exited, see docs/storage.md).
 */
import fs from "node:fs";
import path from "node:path";
import { readEvents, type Ctx, type Message, type Task, type TeamEvent } from "../src/index.js";
import { sleep, type Check } from "./util.js";

/** Every event of the team, checked gapless: seq 1..n, strictly increasing, no repeat. */
export async function checkEvents(ctx: Ctx, team: string): Promise<{ events: TeamEvent[]; check: Check }> {
  const events = await readEvents(ctx, team);
  let bad = -1;
  for (let i = 0; i < events.length; i++) if (events[i].seq !== i + 1) { bad = i; break; }
  return {
    events,
    check: {
      name: "events gapless: seq 1..n, no gap, no repeat",
      ok: bad < 0 && events.length > 0,
      detail: bad < 0 ? `${events.length} events` : `event #${bad} has seq ${events[bad].seq}`,
    },
  };
}

export interface SentMessage { id: string; from: string; to: string; content: string; summary: string }

/**
 * Each sent message is there exactly once with every field as sent; nothing else is.
 * CLANKER_BENCH_FAULT=drop-message drops one before checking (the bench's own test: a lost message fails the run).
 */
export function checkMessages(got: Message[], sent: SentMessage[], what: string): Check[] {
  if (process.env.CLANKER_BENCH_FAULT === "drop-message") got = got.slice(1);
  const byId = new Map<string, Message[]>();
  for (const m of got) byId.set(m.id, [...(byId.get(m.id) ?? []), m]);
  const missing: string[] = [];
  const dup: string[] = [];
  const altered: string[] = [];
  for (const s of sent) {
    const ms = byId.get(s.id) ?? [];
    if (!ms.length) { missing.push(s.content.slice(0, 20)); continue; }
    if (ms.length > 1) dup.push(s.id);
    const m = ms[0];
    const diff = (["from", "to", "content", "summary"] as const).filter((k) => m[k] !== s[k]);
    if (diff.length) altered.push(`${s.id}: ${diff.join(",")}`);
  }
  const sentIds = new Set(sent.map((s) => s.id));
  const extra = got.filter((m) => !sentIds.has(m.id)).length;
  const contents = new Map<string, number>();
  for (const m of got) contents.set(m.content, (contents.get(m.content) ?? 0) + 1);
  const dupContent = [...contents.values()].filter((n) => n > 1).length;
  return [
    { name: `${what}: every one of ${sent.length} messages exactly once (none lost, none doubled, nothing else)`, ok: !missing.length && !dup.length && !extra && !dupContent && got.length === sent.length, detail: `${got.length} there; ${missing.length} missing${missing.length ? ` (e.g. ${missing.slice(0, 2).join(", ")})` : ""}, ${dup.length + dupContent} doubled, ${extra} unexpected` },
    { name: `${what}: every field intact (id, from, to, content, summary)`, ok: !altered.length, detail: altered.length ? `${altered.length} altered, e.g. ${altered.slice(0, 2).join("; ")}` : `${sent.length} × 5 fields` },
  ];
}

export interface ExpectedTask { id: string; subject: string; description: string; status: string; owner?: string; activeForm?: string }

/** Differences between a stored task and what its writer expects. */
export function taskDiff(t: Task | undefined, e: ExpectedTask): string[] {
  if (!t) return ["missing"];
  const diff: string[] = [];
  if (t.subject !== e.subject) diff.push(`subject ${JSON.stringify(t.subject)}`);
  if (t.description !== e.description) diff.push("description");
  if (t.status !== e.status) diff.push(`status ${t.status}≠${e.status}`);
  if (t.owner !== e.owner) diff.push(`owner ${t.owner}≠${e.owner}`);
  if (t.activeForm !== e.activeForm) diff.push(`activeForm ${JSON.stringify(t.activeForm)}≠${JSON.stringify(e.activeForm)}`);
  if (t.blocks.length || t.blockedBy.length) diff.push("dependencies appeared");
  if (e.status === "completed" && !t.completedAt) diff.push("completedAt missing");
  return diff;
}

/**
 * JSON store: the documented files agree with the store (task files, the
 * index, inboxes, events.jsonl). The writers have exited (each leaves the
 * files current); a short wait covers the ~100 ms bound anyway.
 */
export async function checkJsonFiles(dataDir: string, team: string, ctx: Ctx, opts: { tasks?: boolean; inboxes?: string[]; events?: number }): Promise<Check> {
  const problems = async (): Promise<string[]> => {
    const out: string[] = [];
    const rd = (f: string): unknown => {
      try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch (e) { out.push(`${path.relative(dataDir, f)}: ${(e as Error).message.split("\n")[0]}`); return undefined; }
    };
    if (opts.tasks) {
      const rows = await ctx.store.listTasks(team);
      const index = rd(path.join(dataDir, "tasks", team, "tasks.json")) as { tasks?: Record<string, { status: string; owner?: string; subject: string }> } | undefined;
      for (const r of rows) {
        const t = await ctx.store.getTask(team, r.id);
        const file = rd(path.join(dataDir, "tasks", team, `task_${r.id}.json`));
        if (file && JSON.stringify(file) !== JSON.stringify(t)) out.push(`task_${r.id}.json differs from the store`);
        const row = index?.tasks?.[r.id];
        if (!row) out.push(`tasks.json lacks #${r.id}`);
        else if (row.status !== r.status || row.owner !== r.owner || row.subject !== r.subject) out.push(`tasks.json row #${r.id} stale`);
        if (out.length > 5) break;
      }
    }
    for (const agent of opts.inboxes ?? []) {
      const unread = await ctx.store.unread(team, agent);
      const inbox = rd(path.join(dataDir, "messages", team, `${agent}.json`)) as { messages?: Message[] } | undefined;
      const fileUnread = new Set((inbox?.messages ?? []).filter((m) => !m.read).map((m) => m.id));
      const missing = unread.filter((m) => !fileUnread.has(m.id)).length;
      if (missing || fileUnread.size !== unread.length) out.push(`messages/${team}/${agent}.json: ${fileUnread.size} unread in the file, ${unread.length} in the store`);
    }
    if (opts.events !== undefined) {
      let lines: string[] = [];
      try { lines = fs.readFileSync(path.join(dataDir, "teams", team, "events.jsonl"), "utf8").split("\n").filter(Boolean); } catch (e) { out.push(`events.jsonl: ${(e as Error).message}`); }
      const seqs = lines.map((l) => (JSON.parse(l) as TeamEvent).seq);
      if (seqs.length !== opts.events || seqs.some((s, i) => s !== i + 1)) out.push(`events.jsonl has ${seqs.length} lines (seq ${seqs[0]}..${seqs.at(-1)}), the store ${opts.events} events`);
    }
    return out;
  };
  let p: string[] = [];
  for (let i = 0; i < 20; i++) {
    p = await problems();
    if (!p.length) break;
    await sleep(100);
  }
  return { name: "documented files agree with the store (task files, tasks.json, inboxes, events.jsonl)", ok: !p.length, detail: p.length ? p.slice(0, 4).join("; ") : "after the writers exited" };
}
