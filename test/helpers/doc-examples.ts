/**
 * Finds the runnable examples in a Markdown document, in order: in fenced
 * blocks and inline code, `clanker-teams call …` command lines and tool calls
 * written as `tool {json}  // as NAME: … → #N` (guide) or
 * `tool(key=value, …) → #N` (README). Lines with `<placeholders>` are
 * synopses, not examples. A line that starts like a tool call but does not
 * parse is an error, never skipped.
 */

export interface DocExample {
  /** 1-based line in the document. */
  line: number;
  source: string;
  /** Arguments for the CLI (after `clanker-teams`). */
  argv: string[];
  /** `→ #N`: the task id the call must return. */
  expectTaskId?: string;
}

/** Splits a shell command line the way sh would for the quoting used in docs: '…', "…", \x, and an unquoted # comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur = (cur ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let s = "";
      for (; j < line.length && line[j] !== '"'; j++) s += line[j] === "\\" && /["\\$`]/.test(line[j + 1] ?? "") ? line[++j] : line[j];
      if (j >= line.length) throw new Error(`unterminated " in: ${line}`);
      cur = (cur ?? "") + s;
      i = j;
    } else if (c === "\\") {
      cur = (cur ?? "") + (line[++i] ?? "");
    } else if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === "#" && cur === undefined) {
      break;
    } else {
      cur = (cur ?? "") + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** The end (exclusive) of the JSON value starting at `i` (object, array, string or bare literal). */
function jsonValueEnd(s: string, i: number): number {
  const open = s[i];
  if (open === '"') {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === "\\") j++;
      else if (s[j] === '"') return j + 1;
    }
    throw new Error(`unterminated string in: ${s}`);
  }
  if (open === "{" || open === "[") {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const c = s[j];
      if (c === '"') j = jsonValueEnd(s, j) - 1;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") { if (--depth === 0) return j + 1; }
    }
    throw new Error(`unbalanced ${open} in: ${s}`);
  }
  const m = /^[^,)\s]+/.exec(s.slice(i));
  if (!m) throw new Error(`no value at ${i} in: ${s}`);
  return i + m[0].length;
}

/** `key="v", list=["1"], flag=true)` from `i` to the closing parenthesis → the object (values are JSON) and the end. */
function kwargs(s: string, i: number): { args: Record<string, unknown>; end: number } {
  const args: Record<string, unknown> = {};
  for (;;) {
    while (/\s/.test(s[i] ?? "")) i++;
    if (s[i] === ")") return { args, end: i + 1 };
    const m = /^([A-Za-z_]\w*)\s*=\s*/.exec(s.slice(i));
    if (!m) throw new Error(`expected key=value or ")" at "${s.slice(i)}"`);
    i += m[0].length;
    const end = jsonValueEnd(s, i);
    args[m[1]!] = JSON.parse(s.slice(i, end));
    i = end;
    while (/\s/.test(s[i] ?? "")) i++;
    if (s[i] === ",") i++;
    else if (s[i] !== ")") throw new Error(`expected "," or ")" at "${s.slice(i)}"`);
  }
}

/** One line or code span as an example, if it is one. */
export function parseExample(text: string, tools: ReadonlySet<string>): Omit<DocExample, "line"> | undefined {
  const src = text.trim();
  if (/^clanker-teams\s+call\b/.test(src)) {
    if (/<[a-z]+>/i.test(src)) return undefined; // a synopsis such as `clanker-teams call <tool> '<json>'`
    return { source: src, argv: shellWords(src).slice(1) };
  }
  const head = /^([a-z_]+)\s*([{(])/.exec(src);
  if (!head || !tools.has(head[1]!)) return undefined;
  const tool = head[1]!;
  const start = head[0].length - 1;
  let args: unknown;
  let rest: string;
  try {
    if (head[2] === "{") {
      const end = jsonValueEnd(src, start);
      args = JSON.parse(src.slice(start, end));
      rest = src.slice(end);
    } else {
      const k = kwargs(src, start + 1);
      args = k.args;
      rest = src.slice(k.end);
    }
  } catch (e) {
    throw new Error(`example does not parse: ${src}\n  ${(e as Error).message}`);
  }
  const comment = /\/\/\s*(.*)$/.exec(rest)?.[1] ?? "";
  const as = /^as ([^\s:]+)/.exec(comment)?.[1];
  const id = /→\s*#(\d+)/.exec(rest)?.[1];
  return { source: src, argv: ["call", tool, JSON.stringify(args), ...(as ? ["--as", as] : [])], ...(id ? { expectTaskId: id } : {}) };
}

/** Every example of a Markdown document, in document order. */
export function extractExamples(markdown: string, tools: ReadonlySet<string>): DocExample[] {
  const out: DocExample[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((line, i) => {
    const f = /^\s*(```+|~~~+)/.exec(line);
    if (f) {
      if (!fence) fence = f[1];
      else if (line.trim().startsWith(fence)) fence = undefined;
      return;
    }
    if (fence) {
      const ex = parseExample(line, tools);
      if (ex) out.push({ line: i + 1, ...ex });
      return;
    }
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      const ex = parseExample(m[1]!, tools);
      if (ex) out.push({ line: i + 1, ...ex });
    }
  });
  return out;
}
