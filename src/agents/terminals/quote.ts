/**
 * The one quoting module. Adapters pass argv arrays wherever they can; these
 * functions cover the few places where text is parsed again by someone else:
 * a POSIX shell script (iTerm2 launch file), an AppleScript literal, and
 * tmux's own argument parser.
 */

const SHELL_SAFE = /^[A-Za-z0-9_./-]+$/;

/**
 * Quote one word for a POSIX shell (sh, dash, bash, zsh, ksh): the shell reads
 * it back as exactly `s`, with no expansion. Newlines stay literal inside the
 * quotes, which is correct in a script or `sh -c` string; never type the
 * result into an interactive prompt (a newline would submit the line).
 */
export function shQuote(s: string): string {
  if (s.includes("\0")) throw new Error("cannot quote a string containing a NUL byte");
  if (SHELL_SAFE.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Quote every element of argv with {@link shQuote} and join them with spaces. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(" ");
}

/**
 * An AppleScript string literal for `s`: backslash and double quote escaped,
 * tab/CR/LF as `\t` `\r` `\n`, other control characters spliced in with
 * `character id N`, so the literal is always one source line.
 */
export function appleScriptString(s: string): string {
  const parts: string[] = [];
  let run = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") run += "\\\\";
    else if (ch === '"') run += '\\"';
    else if (ch === "\n") run += "\\n";
    else if (ch === "\r") run += "\\r";
    else if (ch === "\t") run += "\\t";
    else if (code < 0x20 || code === 0x7f) {
      parts.push(`"${run}"`, `(character id ${code})`);
      run = "";
    } else run += ch;
  }
  parts.push(`"${run}"`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(" & ")})`;
}

/**
 * Protect one argument from tmux's command-line parser: an argument ending in
 * `;` ends the tmux command (the rest would run as a new tmux command), unless
 * the `;` is preceded by a backslash, which tmux then removes.
 */
export function tmuxArg(s: string): string {
  return s.endsWith(";") ? `${s.slice(0, -1)}\\;` : s;
}

/**
 * Protect an argument that tmux expands as a format (`-c`, `-T`, `-n`):
 * `#` becomes `##`, so `#(cmd)` and `#{...}` stay literal text, then {@link tmuxArg}.
 */
export function tmuxLiteral(s: string): string {
  return tmuxArg(s.replaceAll("#", "##"));
}
