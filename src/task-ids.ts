/**
 * Task ids without a lock and without a race for the lowest free id.
 *
 * `tasks/<team>/ids.tickets` is a header record `base <n>` and then one
 * record per id handed out, each record TICKET bytes (a random nonce and a
 * newline), appended with one O_APPEND write. The order of the appends is the
 * order of the ids: a creator finds its nonce near the end of the file, and
 * its id is base + (records before it). Crowded creators so get consecutive
 * ids in one write and one small read each, with no directory lookups (every
 * lookup of a name in the busy tasks directory may wait for its lock) and no
 * contest for the same id.
 *
 * The task file stays the arbiter: the id is then reserved with an O_EXCL
 * reservation file (task-index.ts), and a ticket whose id turns out taken
 * (a task created before the tickets file, by a transaction, or by a creator
 * that fell back) is dropped for another. A creator killed after taking a
 * ticket leaves a gap in the ids, never a duplicate. Anything unexpected (a
 * file system without hard links, a damaged tickets file) falls back to
 * probing for the lowest free id.
 */
import fs from "node:fs";
import { nanoid } from "nanoid";
import type { Ctx } from "./context.js";
import { moveAside, openInDir } from "./store/json-file.js";
import { readBytes, stillNamed, writeAll } from "./store/handoff.js";
import { discardTemp, peekNextId, reserveExact, reserveId, type Reservation } from "./task-index.js";

/** Bytes per record (the header too), so a record's offset gives its number. */
const TICKET = 16;
/** Tickets a creator may find taken in a row before it falls back to probing. */
const MAX_TICKETS = 64;

/** Base id per tickets file (by inode): read once per process. */
const bases = new Map<string, { ino: number; base: number }>();

/** Reserves a new task id (at least `atLeast`): by ticket, else by probing. */
export function reserveNewId(ctx: Ctx, team: string, atLeast = 1): Reservation {
  for (let i = 0; i < MAX_TICKETS; i++) {
    const id = takeTicket(ctx, team);
    if (id === undefined) break;
    if (id < atLeast) continue;
    const r = reserveExact(ctx, team, id);
    if (r) return r;
  }
  return reserveId(ctx, team, Math.max(atLeast, peekNextId(ctx, team)));
}

/** The id of a fresh ticket, or undefined when tickets cannot be used here (the caller probes instead). */
function takeTicket(ctx: Ctx, team: string, started = false): number | undefined {
  const file = ctx.paths.taskTickets(team);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND); // no O_CREAT: no directory lock
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT" || started || !startTickets(ctx, team, file)) return undefined;
    return takeTicket(ctx, team, true);
  }
  try {
    const nonce = nanoid(TICKET - 1);
    writeAll(fd, Buffer.from(`${nonce}\n`));
    const st = fs.fstatSync(fd);
    const base = baseOf(fd, st.ino, file);
    const at = findRecord(fd, st.size, `${nonce}\n`);
    if (base === undefined || at === undefined || at % TICKET !== 0 || at < TICKET) {
      // A torn record (a write cut short by a full disk) shifted everything after it: start a new file.
      try { if (stillNamed(file, st)) moveAside(file); } catch { /* another creator did */ }
      return undefined;
    }
    return base + at / TICKET - 1;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Starts a new team's tickets at id 1 (team_create), so that its first creators do not race to make the file. */
export function startTeamTickets(ctx: Ctx, team: string): void {
  startTickets(ctx, team, ctx.paths.taskTickets(team), 1);
}

/** Creates the tickets file with its header, atomically (link of a finished file); false if that is impossible. */
function startTickets(ctx: Ctx, team: string, file: string, firstId?: number): boolean {
  if (!fs.existsSync(ctx.paths.teamConfig(team))) return false; // team deleted: create nothing
  const base = firstId ?? peekNextId(ctx, team);
  const header = `base ${base}`;
  if (header.length > TICKET - 1) return false;
  const tmp = `${file}.${process.pid}.${nanoid(6)}.tmp`;
  try {
    const fd = openInDir(tmp, "wx");
    try {
      writeAll(fd, Buffer.from(header.padEnd(TICKET - 1) + "\n"));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") return false; // no hard links here
    }
    return true;
  } catch {
    return false;
  } finally {
    discardTemp(tmp);
  }
}

function baseOf(fd: number, ino: number, file: string): number | undefined {
  const hit = bases.get(file);
  if (hit?.ino === ino) return hit.base;
  const m = /^base (\d+) *\n$/.exec(readBytes(fd, TICKET, 0).toString("utf8"));
  if (!m) return undefined;
  const base = Number(m[1]);
  bases.set(file, { ino, base });
  return base;
}

/** Offset of `record` in the file, searching back from the end (it was appended moments ago). */
function findRecord(fd: number, size: number, record: string): number | undefined {
  for (let window = TICKET * 64; ; window *= 4) {
    const start = Math.max(0, size - window);
    const text = readBytes(fd, size - start, start).toString("latin1");
    const i = text.lastIndexOf(record);
    if (i >= 0) return start + i;
    if (start === 0) return undefined;
  }
}
