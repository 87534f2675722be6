/**
 * Repository paths and globs for file reservations: normalising what an
 * agent typed into a repo-relative pattern, and deciding whether two
 * patterns could match a common path.
 *
 * Patterns are `/`-separated segments. `*` matches any characters within a
 * segment, `?` one character, a whole segment `**` any number of segments
 * (none included, so `src/**` also covers `src` itself). Everything else is
 * literal (`[`, `{` too); matching is case-sensitive. A trailing `/` means
 * the directory and everything below it (`src/` is `src/**`).
 *
 * Overlap is decided exactly for these patterns (a search over both at once),
 * with one conservative simplification: a literal `*` or `?` in a file name
 * is read as a wildcard, so such names may conflict more than they need to.
 */
import { invalid } from "../errors.js";

const GLOBSTAR = "**";

/** True when the pattern has a wildcard. */
export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/**
 * Makes `raw` (relative to `cwd`, or absolute) a pattern relative to the
 * repository root `root` (both absolute, `/`-separated). Refuses paths that
 * leave the repository, `..` after a wildcard, backslashes, control
 * characters and the bare root; the error names `field`.
 */
export function normalizePattern(field: string, raw: unknown, where: { cwd: string; root: string }): string {
  if (typeof raw !== "string") throw invalid(field, `must be a path or glob string, e.g. "src/api/**" (got ${raw === undefined ? "nothing" : typeof raw})`);
  const text = raw.normalize("NFC").trim();
  if (!text) throw invalid(field, `is empty; give a repository path or glob such as "src/api/**"`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw invalid(field, `contains a control character; remove it`);
  if (text.includes("\\")) throw invalid(field, `contains "\\"; separate directories with "/" (e.g. "src/api/x.ts")`);
  if (text.length > 1000) throw invalid(field, `is ${text.length} characters; the limit is 1000`);
  const dirOnly = text.endsWith("/");
  const root = split(where.root);
  const absolute = text.startsWith("/");
  // Relative paths start from the caller's working directory, which may be below the root.
  const base = absolute ? [] : split(where.cwd);
  const out: string[] = [...base];
  let sawGlob = false;
  for (const seg of split(text)) {
    if (seg === ".") continue;
    if (seg === "..") {
      if (sawGlob) throw invalid(field, `${JSON.stringify(raw)} has ".." after a wildcard; write the path without ".."`);
      if (!out.length) throw invalid(field, `${JSON.stringify(raw)} goes above the file system root`);
      out.pop();
      continue;
    }
    if (isGlob(seg)) sawGlob = true;
    out.push(seg);
  }
  const inside = out.length >= root.length && root.every((s, i) => out[i] === s);
  if (!inside) throw invalid(field, `${JSON.stringify(raw)} is outside the repository (${where.root}); give a path inside it, relative to its root (e.g. "src/x.ts")`);
  const rel = out.slice(root.length);
  if (dirOnly && rel.at(-1) !== GLOBSTAR) rel.push(GLOBSTAR);
  if (!rel.length) throw invalid(field, `${JSON.stringify(raw)} is the repository root itself; reserve "**" for everything, or a directory such as "src/"`);
  return rel.join("/");
}

function split(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}

/** True when some path matches both patterns (normalised, repo-relative). */
export function patternsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = split(a);
  const pb = split(b);
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (pb.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === pa.length && j === pb.length) r = true;
    else if (i < pa.length && pa[i] === GLOBSTAR) {
      // ** matches nothing more, or eats one segment of the other side (a ** there too: either advances).
      r = go(i + 1, j) || (j < pb.length && go(i, j + 1));
    } else if (j < pb.length && pb[j] === GLOBSTAR) {
      r = go(i, j + 1) || (i < pa.length && go(i + 1, j));
    } else if (i === pa.length || j === pb.length) r = false;
    else r = segmentsOverlap(pa[i]!, pb[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** True when a path matches the pattern. */
export function matches(pattern: string, path: string): boolean {
  return patternsOverlap(pattern, path);
}

/** True when some non-empty segment matches both segment globs (`*`, `?`, literals; `**` inside a segment is `*`). */
function segmentsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  if (!isGlob(a) && !isGlob(b)) return false;
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    const ca = a[i];
    const cb = b[j];
    if (i === a.length && j === b.length) r = true;
    else if (ca === "*") r = go(i + 1, j) || (j < b.length && cb !== "*" && go(i, j + 1)) || (cb === "*" && go(i, j + 1));
    else if (cb === "*") r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i === a.length || j === b.length) r = false;
    else r = (ca === "?" || cb === "?" || ca === cb) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}
