/**
 * A team's log: the commit point of the JSON store.
 *
 * `teams/<team>/wal/NNNNNN.jsonl` are the log's segments. A change is one
 * record (a JSON line, with the events it logs) appended with one write() on
 * an O_APPEND fd and fdatasync'd before the call returns: one durable write
 * per operation, and no lock. The order of the records in the file is the
 * order of the changes. Every process keeps the team's state in memory and
 * brings it up to date by reading the bytes appended since it last looked
 * (state.ts applies them, deterministically).
 *
 * A writer learns its record's outcome by reading the log up to it: a record
 * refused because another writer changed what it read first (optimistic
 * concurrency, see state.ts) is written again after its rule runs again on
 * the new state. A record torn by a crash is skipped by every reader (the
 * leading newline of the next record isolates it).
 *
 * Rotation: when a segment grows past SEGMENT_BYTES, one process (under the
 * rotate lock) creates the next segment, appends a CLOSED line to the current
 * one, writes a snapshot of the state (snapshot-NNNNNN.json: the state at a
 * position in the new segment) once the documented files it depends on are
 * synced, and removes segments the snapshot made unneeded. Records after the
 * CLOSED line were too late: their writers (who see it when reading back
 * through the fd they wrote with) write them again to the new segment.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { TeamsError } from "../../errors.js";
import { APPEND, CREATE_NEW, ensureDir, ioError, openFile, parseJsonFile, readBytes, readText, removeTree, syncDir, writeAtomic } from "./files.js";
import { SEGMENT_RE, SNAPSHOT_RE, type Layout } from "./layout.js";
import { TeamState, type Outcome, type Rec, type SnapshotState } from "./state.js";

/** Rotate a segment once it holds this many bytes (tests set it low). */
export function segmentBytes(): number {
  return Number(process.env.CLANKER_TEAMS_WAL_BYTES) || 4 * 1024 * 1024;
}
export const CLOSED_LINE = '\n{"closed":true}\n';
/** How many times a refused record is retried before the caller gets CONFLICT. */
const MAX_ATTEMPTS = 200;

export interface LogHost {
  root: string;
  layout: Layout;
  /** Called after a commit (to schedule the documented files). */
  changed(log: TeamLog): void;
  /** Called when the segment grew past SEGMENT_BYTES: rotate it unless another process is (closeSegmentLocked, then a snapshot). */
  rotate(log: TeamLog): void;
  /** Creates the first segment (and snapshot) of a team that has a config but no log: imports files of the old format. */
  importLegacy(log: TeamLog): void;
}

export interface SnapshotFile { format: 1; seg: number; pos: number; state: SnapshotState }

/** A record without what commit() adds (nonce, time, base). */
export type Body = DistributiveOmit<Rec, "n" | "t" | "base">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function nonce(): string {
  return randomBytes(9).toString("base64url");
}

export class TeamLog {
  state = new TeamState();
  seg = 0;
  pos = 0;
  private fd = -1;
  /** Parse failures seen (torn records): for diagnostics. */
  torn = 0;

  constructor(readonly host: LogHost, readonly team: string) {}

  get layout(): Layout { return this.host.layout; }

  /** True when the team's log exists (it has been created). */
  exists(): boolean {
    return fs.existsSync(this.layout.walDir(this.team));
  }

  /** Drops the cached state (the team was deleted or re-created). */
  reset(): void {
    if (this.fd >= 0) try { fs.closeSync(this.fd); } catch { /* closed */ }
    this.fd = -1;
    this.state = new TeamState();
    this.seg = 0;
    this.pos = 0;
  }

  /** Creates a new, empty log (createTeam). Fails if one exists. */
  create(): void {
    this.reset();
    const dir = this.layout.walDir(this.team);
    ensureDir(this.host.root, path.dirname(dir));
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`cannot create ${dir}`, e);
    }
    ensureDir(this.host.root, dir);
    const fd = openFile(this.layout.segment(this.team, 1), CREATE_NEW);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    syncDir(dir);
  }

  /** Segment and snapshot numbers present, ascending. */
  private listing(): { segments: number[]; snapshots: number[] } {
    let names: string[] = [];
    try { names = fs.readdirSync(this.layout.walDir(this.team)); } catch { /* none */ }
    const segments: number[] = [];
    const snapshots: number[] = [];
    for (const n of names) {
      const s = SEGMENT_RE.exec(n);
      if (s) segments.push(Number(s[1]));
      const p = SNAPSHOT_RE.exec(n);
      if (p) snapshots.push(Number(p[1]));
    }
    return { segments: segments.sort((a, b) => a - b), snapshots: snapshots.sort((a, b) => a - b) };
  }

  /** Loads the newest snapshot (or starts empty at the first segment) and opens its segment. */
  private load(): void {
    this.reset();
    if (!this.exists()) {
      this.host.importLegacy(this);
      if (!this.exists()) throw noLog(this.team);
    }
    const { segments, snapshots } = this.listing();
    const snapN = snapshots.at(-1);
    if (snapN !== undefined) {
      const file = this.layout.snapshot(this.team, snapN);
      const text = readText(file);
      if (text !== undefined) {
        const snap = parseJsonFile<SnapshotFile>(file, text, checkSnapshot);
        this.state = TeamState.fromSnapshot(snap.state);
        this.openSegment(snap.seg, snap.pos);
        return;
      }
    }
    if (!segments.length) throw noLog(this.team);
    if (segments[0] !== 1) {
      throw new TeamsError("CORRUPT", `the log of team "${this.team}" starts at segment ${segments[0]} but there is no snapshot in ${this.layout.walDir(this.team)}; restore the missing files or delete the team.`, { team: this.team });
    }
    this.openSegment(1, 0);
  }

  private openSegment(n: number, pos: number): void {
    const file = this.layout.segment(this.team, n);
    const fd = openFile(file, APPEND);
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = fd;
    this.seg = n;
    this.pos = pos;
  }

  /**
   * Brings the state up to the end of the log. `target`: a record nonce to
   * report on: its outcome, "late" (after a CLOSED line), or undefined (not
   * in the log: torn, write it again).
   */
  catchUp(target?: { n: string; seg: number }): Outcome | "late" | undefined {
    if (this.fd < 0) this.load();
    let found: Outcome | "late" | undefined;
    for (;;) {
      const st = fs.fstatSync(this.fd);
      let closed = false;
      if (st.size > this.pos) {
        const buf = readBytes(this.fd, st.size - this.pos, this.pos);
        let start = 0;
        for (;;) {
          const nl = buf.indexOf(0x0a, start);
          if (nl < 0) break;
          const lineStart = start;
          start = nl + 1;
          if (nl === lineStart) continue;
          let rec: Rec & { closed?: boolean };
          try {
            rec = JSON.parse(buf.toString("utf8", lineStart, nl));
          } catch {
            this.torn++;
            continue;
          }
          if (!rec || typeof rec !== "object") { this.torn++; continue; }
          if (rec.closed === true) {
            // Stay before the CLOSED line until advance() has opened what follows: if that fails, the next call tries again.
            closed = true;
            start = lineStart;
            break;
          }
          if (typeof rec.n !== "string" || typeof rec.op !== "string") { this.torn++; continue; }
          let out: Outcome;
          try {
            out = this.state.apply(rec);
          } catch {
            out = { ok: false }; // a malformed record: refused by every reader alike
          }
          if (target && rec.n === target.n) found = out;
        }
        this.pos += start;
      }
      if (closed) {
        if (target && found === undefined && target.seg === this.seg) found = "late";
        this.advance();
        continue;
      }
      if (st.nlink === 0) {
        // Unlinked without a CLOSED line: the team was deleted (and maybe created again).
        this.reset();
        if (target && found === undefined) throw deleted(this.team);
        if (!this.exists()) throw deleted(this.team);
        this.load();
        continue;
      }
      return found;
    }
  }

  /** Past a CLOSED line: on to the next segment, through its snapshot when there is one. */
  private advance(): void {
    const next = this.seg + 1;
    const snapFile = this.layout.snapshot(this.team, next);
    const text = readText(snapFile);
    if (text !== undefined) {
      // Same state (and the read messages it archived left out): start from it.
      const snap = parseJsonFile<SnapshotFile>(snapFile, text, checkSnapshot);
      this.state = TeamState.fromSnapshot(snap.state);
      this.openSegment(snap.seg, snap.pos);
      return;
    }
    try {
      this.openSegment(next, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot open ${this.layout.segment(this.team, next)}`, e);
      // Removed by later rotations while we lagged behind: the newest snapshot is past it.
      this.load();
    }
  }

  /**
   * Commits one change: `build` reads the state (up to date) and returns the
   * record body, or null for no change (returned as undefined). Retries when
   * another writer got there first. Synchronous: no other operation of this
   * process runs in between.
   */
  commit(now: number, build: (st: TeamState) => Body | null): { rec: Rec; out: Outcome } | undefined {
    for (let attempt = 0; ; attempt++) {
      this.catchUp();
      const base = this.state.lsn;
      const body = build(this.state);
      if (!body) return undefined;
      const r = this.write(now, base, body);
      if (r) return r;
      this.tooMany(attempt);
    }
  }

  /** commit() for a build that awaits (transactions): other operations of this process may commit meanwhile; `base` catches them. */
  async commitAsync(now: number, build: (st: TeamState) => Promise<Body | null>): Promise<{ rec: Rec; out: Outcome } | undefined> {
    for (let attempt = 0; ; attempt++) {
      this.catchUp();
      const base = this.state.lsn;
      const body = await build(this.state);
      if (!body) return undefined;
      const r = this.write(now, base, body);
      if (r) return r;
      this.tooMany(attempt);
    }
  }

  /** Appends the record and reads back its outcome; undefined when it must be written again (refused, late or torn). */
  private write(now: number, base: number, body: Body): { rec: Rec; out: Outcome } | undefined {
    if (this.fd < 0) this.catchUp();
    const rec = { n: nonce(), t: new Date(now).toISOString(), base, ...body } as Rec;
    const seg = this.seg;
    this.append(Buffer.from(`\n${JSON.stringify(rec)}\n`, "utf8"));
    const out = this.catchUp({ n: rec.n, seg });
    if (out === undefined || out === "late" || !out.ok) return undefined;
    this.host.changed(this);
    if (this.pos > segmentBytes()) this.host.rotate(this);
    return { rec, out };
  }

  private tooMany(attempt: number): void {
    if (attempt >= MAX_ATTEMPTS) {
      throw new TeamsError("CONFLICT", `team "${this.team}": other writers kept changing the same data (${attempt + 1} attempts); retry.`, { team: this.team });
    }
  }

  /** One write of the whole record, fdatasync'd. A short write leaves a torn line; the record is written again whole. */
  private append(buf: Buffer): void {
    for (let i = 0; ; i++) {
      let n: number;
      try {
        n = fs.writeSync(this.fd, buf, 0, buf.length);
        if (n === buf.length) { fs.fdatasyncSync(this.fd); return; }
      } catch (e) {
        throw ioError(`cannot write to the log of team "${this.team}" (${this.layout.segment(this.team, this.seg)}); nothing was saved`, e);
      }
      if (i >= 2) throw new TeamsError("IO", `cannot write to the log of team "${this.team}": short writes (${n} of ${buf.length} bytes); is the disk full? Nothing was saved.`);
    }
  }

  /**
   * Under the materialize lock: if the current segment is still the newest
   * and past SEGMENT_BYTES, creates the next one and closes this one with a
   * CLOSED line, and moves the state past it. True when the caller should now
   * materialize and write the snapshot of the new segment.
   */
  closeSegmentLocked(): boolean {
    this.catchUp();
    if (this.pos <= segmentBytes()) return false;
    const next = this.seg + 1;
    try {
      const fd = openFile(this.layout.segment(this.team, next), CREATE_NEW);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      syncDir(this.layout.walDir(this.team));
    } catch (e) {
      // A rotator that died after creating it: its CLOSED line may be missing; ours (or its) counts.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`cannot create the next log segment of team "${this.team}"`, e);
    }
    const buf = Buffer.from(CLOSED_LINE);
    try {
      fs.writeSync(this.fd, buf, 0, buf.length);
      fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw ioError(`cannot close log segment ${this.layout.segment(this.team, this.seg)}`, e);
    }
    this.catchUp();
    return this.seg === next;
  }

  /** Writes a snapshot of the current state (caller holds the lock and has synced the files it relies on). */
  writeSnapshot(state: SnapshotState): void {
    const snap: SnapshotFile = { format: 1, seg: this.seg, pos: this.pos, state };
    writeAtomic(this.host.root, this.layout.snapshot(this.team, this.seg), JSON.stringify(snap), { durable: true });
    // Segments before the previous one and older snapshots are no longer needed by anyone loading.
    const { segments, snapshots } = this.listing();
    for (const s of segments) if (s < this.seg - 1) try { fs.unlinkSync(this.layout.segment(this.team, s)); } catch { /* gone */ }
    for (const s of snapshots) if (s < this.seg) try { fs.unlinkSync(this.layout.snapshot(this.team, s)); } catch { /* gone */ }
  }

  close(): void {
    this.reset();
  }

  /** Removes the log directory (deleteTeam). */
  remove(): void {
    this.reset();
    removeTree(this.layout.walDir(this.team));
  }
}

function noLog(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" does not exist (it has no log).`, { team });
}

function deleted(team: string): TeamsError {
  return new TeamsError("NOT_FOUND", `team "${team}" was deleted; nothing was saved.`, { team });
}

function checkSnapshot(v: unknown): SnapshotFile {
  const s = v as SnapshotFile;
  if (!s || s.format !== 1 || !Number.isInteger(s.seg) || !Number.isInteger(s.pos) || !s.state || typeof s.state !== "object") {
    throw new Error("not a log snapshot of format 1 (format, seg, pos, state)");
  }
  return s;
}
