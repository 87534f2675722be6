/**
 * Lock-free hand-off of an append-only JSONL file from many writers to one
 * taker (the message spool, the pending event queue).
 *
 * Writers append `\n<json line>\n` with one O_APPEND write and keep the fd.
 * The taker renames the file aside, appends a CLOSED line to it and reads
 * only what precedes that line. A writer that finds its fd no longer names
 * the live file asks `takenBefore`: if its line precedes the CLOSED line (or
 * there is none yet, so the taker will close after it) the taker has it;
 * otherwise it was too late and appends again to the new file. So every line
 * is taken exactly once, with no lock on the writers' side.
 */
import fs from "node:fs";

/** The line a taker appends to a file it took; lines after it arrived too late. */
export const CLOSED = '{"closed":true}';
const CLOSED_LINE = `\n${CLOSED}\n`;

/**
 * True when `file` currently names the file `st` describes (device and
 * inode; while the writer's fd is open the inode cannot be reused): the
 * writer's file has not been taken.
 */
export function stillNamed(file: string, st: fs.Stats): boolean {
  try {
    const now = fs.statSync(file);
    return now.ino === st.ino && now.dev === st.dev;
  } catch {
    return false;
  }
}

/** The start of a line whose JSON begins with this `id` (a JSON line never contains a raw newline). */
export function lineMark(id: string): string {
  return `\n{"id":${JSON.stringify(id)},`;
}

/**
 * For a writer whose fd no longer names the live file: true when its line
 * (the one starting with `lineMark(id)`) will be or was read by the taker.
 */
export function takenBefore(fd: number, id: string): boolean {
  const text = readFd(fd, fs.fstatSync(fd).size);
  const mine = text.indexOf(lineMark(id));
  if (mine < 0) return false; // not there at all: write it again (a copy is dropped by id, a loss is not undone)
  const closed = text.indexOf(CLOSED_LINE);
  return closed < 0 || closed > mine;
}

/**
 * For the taker, after renaming the file aside: closes it with a CLOSED line
 * and returns the text before the first CLOSED line, and the whole text (for
 * a file whose taker died: lines after its CLOSED line may have no other copy
 * if their writers died too). Undefined when there is no such file.
 */
export function closeAndRead(file: string): { before: string; text: string } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND); // no O_CREAT: a missing file stays missing
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let text: string;
  try {
    writeAll(fd, Buffer.from(CLOSED_LINE));
    text = readFd(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
  return { before: text.slice(0, text.indexOf(CLOSED_LINE) + 1), text };
}

/** True for the CLOSED line (or any other non-record line a reader must skip). */
export function isClosedLine(v: unknown): boolean {
  return !!v && typeof v === "object" && (v as { closed?: unknown }).closed === true;
}

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

export function readBytes(fd: number, length: number, position = 0): Buffer {
  const buf = Buffer.alloc(length);
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

export function readFd(fd: number, length: number): string {
  return readBytes(fd, length).toString("utf8");
}
