/**
 * Counts, in one process, the files and directories the JSON store creates
 * (each a new inode) and removes, and every synchronous node:fs call it
 * makes, split into calls made during an operation ("commit path": while
 * `inOp` is set) and outside one (timers: the derived files, flushes).
 *
 * Method: the JSON store does all its file work through node:fs's
 * synchronous API, called on the module's default export at call time
 * (`fs.openSync(…)`), so wrapping those properties sees every call without
 * strace. A create is: mkdirSync/mkdtempSync that succeeds; openSync with
 * O_CREAT that succeeds on a path that did not exist (always with O_EXCL);
 * writeFileSync/appendFileSync/copyFileSync/symlinkSync on a path that did not
 * exist. `entries()` walks the data directory, so that created − removed can
 * be checked against the change in the number of directory entries.
 */
import fs from "node:fs";
import path from "node:path";

export interface FsCounts {
  created: number;
  /** Files and directories removed, and files replaced by a rename (each frees an inode). */
  removed: number;
  renamed: number;
  /** Calls by name. */
  calls: Record<string, number>;
  /** Paths (relative to the data dir, with digits and random parts folded) of created files: what kind of file each is. */
  createdKinds: Record<string, number>;
}

export interface FsCounter {
  inOp: boolean;
  reset(): void;
  snapshot(): { op: FsCounts; background: FsCounts };
  entries(): number;
}

const empty = (): FsCounts => ({ created: 0, removed: 0, renamed: 0, calls: {}, createdKinds: {} });

const { O_CREAT, O_EXCL } = fs.constants;

function existed(p: fs.PathLike): boolean {
  try {
    realLstat(p);
    return true;
  } catch {
    return false;
  }
}
const realLstat = fs.lstatSync.bind(fs);

export function installFsCounter(root: string): FsCounter {
  let op = empty();
  let bg = empty();
  const state = { inOp: false };
  const cur = () => (state.inOp ? op : bg);
  const kindOf = (p: fs.PathLike) => {
    const rel = path.relative(root, String(p));
    return rel.replace(/\.\d+\.[0-9a-f]+\.tmp$/, ".<tmp>").replace(/\d+/g, "N");
  };
  const created = (p: fs.PathLike) => {
    const c = cur();
    c.created++;
    const k = kindOf(p);
    c.createdKinds[k] = (c.createdKinds[k] ?? 0) + 1;
  };
  const mod = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of Object.keys(fs)) {
    if (!name.endsWith("Sync") || typeof mod[name] !== "function") continue;
    const orig = mod[name];
    mod[name] = function (this: unknown, ...a: unknown[]) {
      const c = cur();
      c.calls[name] = (c.calls[name] ?? 0) + 1;
      let isNew = false;
      if (name === "openSync" && typeof a[0] !== "number") {
        const flags = typeof a[1] === "number" ? a[1] : 0;
        if (flags & O_CREAT) isNew = (flags & O_EXCL) !== 0 || !existed(a[0] as fs.PathLike);
      } else if (["writeFileSync", "appendFileSync", "symlinkSync"].includes(name) && typeof a[0] !== "number") {
        isNew = !existed((name === "symlinkSync" ? a[1] : a[0]) as fs.PathLike);
      } else if (name === "copyFileSync") {
        isNew = !existed(a[1] as fs.PathLike);
      }
      // A rename over an existing file frees that file's inode (and its directory entry).
      const replaces = name === "renameSync" && existed(a[1] as fs.PathLike);
      const r = orig.apply(this, a);
      const recursive = name === "mkdirSync" && typeof a[1] === "object" && a[1] !== null && (a[1] as { recursive?: boolean }).recursive;
      if (name === "mkdtempSync" || (name === "mkdirSync" && (!recursive || r !== undefined))) created(name === "mkdtempSync" ? String(r) : (a[0] as string));
      else if (isNew) created((name === "copyFileSync" || name === "symlinkSync" ? a[1] : a[0]) as string);
      else if (name === "unlinkSync" || name === "rmdirSync" || name === "rmSync") c.removed++;
      else if (name === "renameSync") { c.renamed++; if (replaces) c.removed++; }
      return r;
    };
  }
  const count = (dir: string): number => {
    let n = 0;
    let names: fs.Dirent[] = [];
    try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
    for (const d of names) {
      n++;
      if (d.isDirectory()) n += count(path.join(dir, d.name));
    }
    return n;
  };
  return {
    get inOp() { return state.inOp; },
    set inOp(v: boolean) { state.inOp = v; },
    reset() { op = empty(); bg = empty(); },
    snapshot() { return { op, background: bg }; },
    entries() {
      // Not counted as the store's calls.
      const saved = { op, bg };
      op = empty(); bg = empty();
      const n = count(root);
      op = saved.op; bg = saved.bg;
      return n;
    },
  };
}
