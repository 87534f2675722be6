/** The team's append-only event log: one JSON line per state change, strictly increasing seq. */
import fs from "node:fs";
import type { Ctx } from "./context.js";
import { withLock } from "./store/lock.js";
import { appendText, parseJsonl, readText } from "./store/json-file.js";
import type { TeamEvent } from "./schemas.js";

/**
 * Last seq seen per file, valid while the file is the same one (inode, mtime)
 * with the same size (saves re-reading the tail). Size alone is not enough: a
 * team deleted and re-created by another process can grow a new log to the
 * cached size, and a stale seq would then go backwards.
 */
const seqCache = new Map<string, { size: number; ino: number; mtimeMs: number; seq: number }>();

/** Appends one event under the log's lock and returns it. */
export async function appendEvent(ctx: Ctx, team: string, kind: string, data: Record<string, unknown>): Promise<TeamEvent> {
  const file = ctx.paths.events(team);
  return withLock(file, () => {
    const { seq: last, needsNewline } = lastSeq(file);
    const event: TeamEvent = { seq: last + 1, time: new Date(ctx.now()).toISOString(), actor: ctx.actor, kind, data };
    const line = (needsNewline ? "\n" : "") + JSON.stringify(event) + "\n";
    appendText(file, line);
    try {
      const st = fs.statSync(file);
      seqCache.set(file, { size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, seq: event.seq });
    } catch {
      seqCache.delete(file);
    }
    return event;
  });
}

function lastSeq(file: string): { seq: number; size: number; needsNewline: boolean } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { seq: 0, size: 0, needsNewline: false };
  }
  const size = st.size;
  const cached = seqCache.get(file);
  if (cached && cached.size === size && cached.ino === st.ino && cached.mtimeMs === st.mtimeMs) return { seq: cached.seq, size, needsNewline: false };
  const fd = fs.openSync(file, "r");
  try {
    // Read backwards in chunks until a complete, parseable line with a seq is found.
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8");
      const needsNewline = size > 0 && !text.endsWith("\n");
      const lines = text.split("\n");
      if (start > 0) lines.shift(); // first line may be partial
      for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i].trim();
        if (!l) continue;
        try {
          const ev = JSON.parse(l) as { seq?: unknown };
          if (typeof ev.seq === "number") return { seq: ev.seq, size, needsNewline };
        } catch {
          /* torn line: keep looking backwards */
        }
      }
      if (start === 0) return { seq: 0, size, needsNewline };
      chunk *= 4;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads events with seq > afterSeq (all by default). */
export function readEvents(ctx: Ctx, team: string, afterSeq = 0): TeamEvent[] {
  const text = readText(ctx.paths.events(team));
  if (!text) return [];
  return parseJsonl<TeamEvent>(text).items.filter((e) => typeof e.seq === "number" && e.seq > afterSeq);
}
