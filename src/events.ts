/**
 * The team's append-only event log, `events.jsonl`: one JSON line per state
 * change, with a `seq` that strictly increases without gaps.
 *
 * Appending uses flat combining instead of one contended lock per event: the
 * writer appends its event (no seq yet) to `events.pending.jsonl` with one
 * O_APPEND write, then tries the log's lock without waiting. Whoever holds the
 * lock drains for everybody: renames the pending file to
 * `events.taking.jsonl`, closes it with a marker line, numbers the lines
 * before the marker, appends them to the log in one write and removes the
 * taken file. A writer that finds the lock busy queues its line, tries the
 * lock once more and returns: the holder looks at the pending file again
 * after releasing the lock and drains again while lines wait (drainOnce).
 * Readers (readEvents) number what is queued before they read.
 * See docs/storage.md ("Events") for the crash analysis.
 */
import fs from "node:fs";
import path from "node:path";
import { nanoid } from "nanoid";
import type { Ctx } from "./context.js";
import { TeamsError } from "./errors.js";
import { WAIT_MS, lockHeld, tryLockSync } from "./store/lock.js";
import { ioError, parseJsonl, readText } from "./store/json-file.js";
import { closeAndRead, readBytes, stillNamed, takenBefore, writeAll } from "./store/handoff.js";
import type { TeamEvent } from "./schemas.js";

/** Batches one drainer takes before it leaves the rest to the next lock holder. */
const MAX_ROUNDS = 32;

interface LogFiles { log: string; pending: string; taking: string }

function filesOf(ctx: Ctx, team: string): LogFiles {
  return { log: ctx.paths.events(team), pending: ctx.paths.eventsPending(team), taking: ctx.paths.eventsTaking(team) };
}

/**
 * Last seq seen per log, valid while the file is the same one (inode, mtime)
 * with the same size (saves re-reading the tail). Size alone is not enough: a
 * team deleted and re-created by another process can grow a new log to the
 * cached size, and a stale seq would then go backwards.
 */
const seqCache = new Map<string, { size: number; ino: number; mtimeMs: number; seq: number }>();

/**
 * Appends one event. Resolves once the event has its seq in `events.jsonl`,
 * or is queued where the process holding the log's lock numbers it before it
 * is done (a following readEvents sees it either way), or the team was
 * deleted meanwhile.
 */
export async function appendEvent(ctx: Ctx, team: string, kind: string, data: Record<string, unknown>): Promise<void> {
  return queueEvent(ctx, team, kind, data).logged();
}

/** An event on its way to the log. */
export interface QueuedEvent {
  /** Resolves once the event is numbered, or queued where the lock's holder numbers it (see appendEvent). */
  logged(): Promise<void>;
  /** Gives up waiting: a queued event stays queued (the next appender numbers it); one not queued yet is dropped. */
  abandon(): void;
}

/**
 * Starts appending an event and returns a handle to wait for its number, so
 * that a caller can overlap the wait with its own slow work (sendMessage: the
 * spool's fdatasync). If the log's lock is busy right now, the event goes to
 * the pending file at once (its drainer may number it meanwhile); if it is
 * free, `logged()` first tries to take it and append the event directly, the
 * cheap path when nobody else is writing.
 */
export function queueEvent(ctx: Ctx, team: string, kind: string, data: Record<string, unknown>): QueuedEvent {
  const f = filesOf(ctx, team);
  const id = nanoid(12);
  const event: Pending = { id, time: new Date(ctx.now()).toISOString(), actor: ctx.actor, kind, data };
  let staged: Staged | undefined = lockHeld(f.log) ? stage(f, id, JSON.stringify(event)) : undefined;
  let done = false;
  const close = () => {
    done = true;
    if (staged && staged.fd >= 0) fs.closeSync(staged.fd);
    staged = { fd: -1, wait: false };
  };
  return {
    abandon: close,
    async logged() {
      if (done) return;
      try {
        if (staged === undefined) {
          // Lock free a moment ago: number it ourselves, behind whatever is pending.
          if (drainOnce(f, event)) return;
          staged = stage(f, id, JSON.stringify(event));
        }
        if (staged.fd < 0) return;
        if (staged.wait) await untilNumbered(f, staged.fd);
        // The lock may have come free since we found it busy; if not, its holder numbers our line after releasing it.
        else drainOnce(f);
      } finally {
        close();
      }
    },
  };
}

/**
 * A pending batch older than this was left behind (its last drainer was
 * killed between releasing the lock and looking again): writers that join it
 * wait until it is numbered, draining it themselves when the lock is free.
 */
const STUCK_MS = 100;
/** Extra drains a lock holder does after releasing, for lines queued meanwhile (see drainOnce). */
const AFTER_ROUNDS = 32;

/** An event line in a pending file: the fd on that file (-1: team gone), and whether we must see it numbered. */
interface Staged { fd: number; wait: boolean }

/** Numbers whatever is queued, if the lock is free (readers call this so that they see every acknowledged event). */
function flushPending(f: LogFiles): void {
  if (size(f.pending) > 0 || fs.existsSync(f.taking)) drainOnce(f);
}

/** Numbers the team's queued events now unless another process is doing it (the lead's sweep calls this). */
export function flushEvents(ctx: Ctx, team: string): void {
  flushPending(filesOf(ctx, team));
}

/**
 * One attempt at the lock, without waiting; if free, drains (then appends
 * `event` too). False if the lock was busy, or the team is gone (taking the
 * lock would create its directory again).
 *
 * After releasing, looks at the pending file again and drains again while
 * lines are waiting and the lock is free: a writer that found the lock busy
 * queued its line and returned, counting on the holder it found. Every such
 * line was queued before that holder released, so that holder sees it here,
 * or another process holds the lock by then and does the same.
 */
function drainOnce(f: LogFiles, event?: Pending): boolean {
  if (!fs.existsSync(path.dirname(f.log))) return false;
  if (tryLockSync(f.log, () => drainUnlessDeleted(f, event)) === undefined) return false;
  for (let i = 0; i < AFTER_ROUNDS && size(f.pending) > 0; i++) {
    if (tryLockSync(f.log, () => drainUnlessDeleted(f)) === undefined) break;
  }
  return true;
}

/** Waits until the file holding our line (fd) is removed, draining for everybody whenever the lock is free. */
async function untilNumbered(f: LogFiles, fd: number): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    // The file holding our line is removed only after its lines are in the log (or with the team).
    if (fs.fstatSync(fd).nlink === 0) return;
    if (drainOnce(f)) continue;
    if (Date.now() - started > WAIT_MS) throw new TeamsError("LOCKED", `${f.log} stayed locked for ${Math.round(WAIT_MS / 1000)} s; the event is queued in ${f.pending} and will be logged by the next writer.`, { file: f.log });
    await sleep(backoff(attempt));
  }
}

/**
 * Appends the event line to the pending file, for a drainer to pick up. If a
 * drainer took that file and closed it before our line landed, appends again
 * to the new pending file. The writer need not wait (see drainOnce), unless
 * the batch it joined is old (left behind by a killed drainer).
 */
function stage(f: LogFiles, id: string, json: string): Staged {
  // The leading newline isolates a fragment torn by a writer killed mid-write.
  const buf = Buffer.from(`\n${json}\n`, "utf8");
  for (let tries = 0; ; tries++) {
    let fd: number | undefined;
    try {
      try {
        fd = fs.openSync(f.pending, "a+", 0o600); // readable: see takenBefore
      } catch (e) {
        // No team directory: the team was deleted. Its log went with it; do not start a new one.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return { fd: -1, wait: false };
        throw e;
      }
      writeAll(fd, buf);
      const st = fs.fstatSync(fd);
      if (stillNamed(f.pending, st)) {
        // No birth time on this file system: everybody waits, as if every batch were left behind.
        const stuck = !(st.birthtimeMs > 0) || Date.now() - st.birthtimeMs > STUCK_MS;
        const keep = fd;
        fd = undefined;
        return { fd: keep, wait: stuck };
      }
      // Taken by a drainer holding the lock: if our line made it, that drainer numbers it.
      if (takenBefore(fd, id)) {
        const keep = fd;
        fd = undefined;
        return { fd: keep, wait: false };
      }
    } catch (e) {
      throw ioError(`cannot append to ${f.pending}`, e);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    if (tries > 1000) throw new TeamsError("IO", `cannot queue an event in ${f.pending}: it was taken away ${tries} times in a row`);
  }
}

/**
 * Under the log's lock: takes the pending file (or a taken file a killed
 * drainer left), numbers its events and appends them to the log in one write;
 * repeats while more are pending. Then appends `direct` (an event that never
 * went through the pending file). Synchronous: nothing else in this process
 * runs in between.
 */
function drain(f: LogFiles, direct?: Pending): void {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const leftover = fs.existsSync(f.taking);
    if (!leftover) {
      try {
        fs.renameSync(f.pending, f.taking);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
        throw ioError(`cannot take ${f.pending}`, e);
      }
    }
    const batch = takeBatch(f.taking);
    const tail = logTail(f.log, leftover ? batch.length : 0);
    // A killed drainer may have logged some of a leftover batch already: never twice.
    const fresh = leftover ? batch.filter((e) => !tail.ids.has(e.id)) : batch;
    if (fresh.length) number(f.log, tail.seq, fresh);
    fs.unlinkSync(f.taking);
    if (!leftover && size(f.pending) === 0) break;
  }
  if (direct) number(f.log, logTail(f.log, 0).seq, [direct]);
}

/** Appends events numbered after `last` in one write. */
function number(log: string, last: number, events: Pending[]): void {
  let seq = last;
  const text = events.map((e) => JSON.stringify({ seq: ++seq, time: e.time, actor: e.actor, kind: e.kind, data: e.data, id: e.id }) + "\n").join("");
  // No O_CREAT of directories: a deleted team's log is not started again (ENOENT ends the drain).
  const fd = fs.openSync(log, "a", 0o600);
  try {
    writeAll(fd, Buffer.from(text, "utf8"));
  } finally {
    fs.closeSync(fd);
  }
  remember(log, seq);
}

/** A team deleted while we drain takes its pending events with it. */
function drainUnlessDeleted(f: LogFiles, direct?: Pending): void {
  try {
    drain(f, direct);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !fs.existsSync(path.dirname(f.log))) return;
    throw e;
  }
}

interface Pending { id: string; time: string; actor: string; kind: string; data: Record<string, unknown> }

/** Closes a taken batch (CLOSED line) and returns the events before the first CLOSED line, in order. */
function takeBatch(file: string): Pending[] {
  const out: Pending[] = [];
  for (const e of parseJsonl<Partial<Pending>>(closeAndRead(file)?.before ?? "").items) {
    if (e && typeof e.id === "string" && typeof e.kind === "string" && typeof e.time === "string" && typeof e.actor === "string") {
      out.push({ id: e.id, time: e.time, actor: e.actor, kind: e.kind, data: e.data && typeof e.data === "object" ? e.data : {} });
    }
  }
  return out;
}

function remember(file: string, seq: number): void {
  try {
    const st = fs.statSync(file);
    seqCache.set(file, { size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, seq });
  } catch {
    seqCache.delete(file);
  }
}

/**
 * Under the lock: the log's last seq and the ids of its last `want` events. A
 * torn last line (a drainer killed mid-write; its batch is still in the taken
 * file) is cut off first, so every line of the log parses.
 */
function logTail(file: string, want: number): { seq: number; ids: Set<string> } {
  const ids = new Set<string>();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { seq: 0, ids };
  }
  const cached = seqCache.get(file);
  if (!want && cached && cached.size === st.size && cached.ino === st.ino && cached.mtimeMs === st.mtimeMs) return { seq: cached.seq, ids };
  const fd = fs.openSync(file, "r+");
  try {
    let size = st.size;
    // Read backwards in chunks until the last seq and `want` ids are found.
    for (let chunk = 64 * 1024; ; ) {
      const start = Math.max(0, size - chunk);
      const buf = readBytes(fd, size - start, start);
      if (buf.length && buf[buf.length - 1] !== 0x0a) {
        const nl = buf.lastIndexOf(0x0a);
        if (nl < 0 && start > 0) {
          chunk *= 4; // a line longer than the chunk: read more
          continue;
        }
        size = start + nl + 1;
        fs.ftruncateSync(fd, size);
        seqCache.delete(file);
        continue;
      }
      const lines = buf.toString("utf8").split("\n");
      if (start > 0) lines.shift(); // first line may be partial
      let seq: number | undefined;
      let seen = 0;
      ids.clear();
      for (let i = lines.length - 1; i >= 0 && (seq === undefined || seen < want); i--) {
        const l = lines[i].trim();
        if (!l) continue;
        try {
          const ev = JSON.parse(l) as { seq?: unknown; id?: unknown };
          if (typeof ev.seq !== "number") continue;
          if (seq === undefined) seq = ev.seq;
          if (typeof ev.id === "string") ids.add(ev.id);
          seen++;
        } catch {
          /* a bad line: skip it */
        }
      }
      if ((seq !== undefined && seen >= want) || start === 0) return { seq: seq ?? 0, ids };
      chunk *= 4;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function size(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Short jittered waits: a drain takes well under a millisecond, a descheduled drainer longer. */
function backoff(attempt: number): number {
  return Math.min(4, 0.5 * 1.3 ** attempt) * (0.75 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads events with seq > afterSeq (all by default). Only numbered lines of `events.jsonl` count. */
export function readEvents(ctx: Ctx, team: string, afterSeq = 0): TeamEvent[] {
  try {
    flushPending(filesOf(ctx, team));
  } catch { /* reading must not fail for it: the queued events stay queued */ }
  const text = readText(ctx.paths.events(team));
  if (!text) return [];
  return parseJsonl<TeamEvent>(text).items.filter((e) => typeof e.seq === "number" && e.seq > afterSeq);
}
