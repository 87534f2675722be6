/**
 * iTerm2 adapter (macOS), driven by AppleScript through `osascript`.
 *
 * iTerm2 can only type a command line into the new session's shell
 * (`write text`), and that shell may be zsh, bash or fish. So the teammate's
 * argv, cwd and env go into a private POSIX sh launch script (quoted by
 * quote.ts, see launchScript), and the only text typed is
 * ` exec /bin/sh '<script path>'`, which every shell reads the same way. The
 * title and that line reach AppleScript as `on run argv` arguments, never as
 * script source, so no AppleScript escaping is involved either.
 */

import { CliRunner, defaultExec, type AdapterBaseOptions } from "./exec.js";
import { TerminalError } from "./errors.js";
import { launchScript, readPidFile, RunDir } from "./launcher.js";
import { isPidAlive, terminate } from "./process.js";
import { shQuote } from "./quote.js";
import { Serial } from "./serial.js";
import { cleanTitle, validateSpec } from "./spec.js";
import type { PaneRef, SpawnSpec, TerminalAdapter } from "./types.js";

export interface Iterm2AdapterOptions extends AdapterBaseOptions {
  /** The lead's session id (default: the GUID part of $ITERM_SESSION_ID). */
  leadSession?: string;
}

/** AppleScript handler shared by the scripts: the session whose id is theId, or missing value. */
const FIND_SESSION = `on findSession(theId)
  if theId is "" then return missing value
  tell application "iTerm2"
    repeat with w in windows
      repeat with t in tabs of w
        repeat with s in sessions of t
          if (id of s as text) is theId then return s
        end repeat
      end repeat
    end repeat
  end tell
  return missing value
end findSession`;

/**
 * argv: title, command line, last teammate's session id ("" if none), lead's session id ("" = current).
 * Splits the last teammate horizontally (new one below), or else the lead vertically (new one right).
 */
export const SPAWN_SCRIPT = `-- clanker-teams:spawn
${FIND_SESSION}

on run argv
  set {theTitle, theLine, lastId, leadId} to argv
  set parentSession to my findSession(lastId)
  tell application "iTerm2"
    if parentSession is not missing value then
      tell parentSession
        set newSession to (split horizontally with default profile)
      end tell
    else
      set leadSession to my findSession(leadId)
      if leadSession is missing value then set leadSession to current session of current window
      tell leadSession
        set newSession to (split vertically with default profile)
      end tell
    end if
    tell newSession
      set name to theTitle
      write text theLine
    end tell
    return id of newSession
  end tell
end run`;

/** argv: session id. Prints "alive" or "gone". */
export const ALIVE_SCRIPT = `-- clanker-teams:alive
${FIND_SESSION}

on run argv
  if my findSession(item 1 of argv) is missing value then return "gone"
  return "alive"
end run`;

/** argv: session id. Closes that session if it still exists. */
export const CLOSE_SCRIPT = `-- clanker-teams:close
${FIND_SESSION}

on run argv
  set theSession to my findSession(item 1 of argv)
  if theSession is missing value then return "gone"
  tell application "iTerm2"
    tell theSession to close
  end tell
  return "closed"
end run`;

/** The session GUID in an $ITERM_SESSION_ID value ("w0t1p0:6B2D...-..."). */
export function sessionFromItermEnv(value: string | undefined): string {
  if (!value) return "";
  return value.includes(":") ? value.slice(value.indexOf(":") + 1) : value;
}

/** The line typed into the new session: runs the launch script, kept out of shell history by the leading space. */
export function typedLine(scriptPath: string): string {
  // Inside '...' fish treats \ and ' specially; a path with neither reads the same in every shell.
  if (/['\\\u0000-\u001f\u007f]/.test(scriptPath)) {
    throw new TerminalError("INVALID_SPAWN_SPEC", `iterm2: runDir ${JSON.stringify(scriptPath)} must not contain quotes, backslashes or control characters`);
  }
  return ` exec /bin/sh ${shQuote(scriptPath)}`;
}

/** Teammate sessions split off the lead's iTerm2 session. */
export class Iterm2Adapter implements TerminalAdapter {
  readonly kind = "iterm2" as const;
  private readonly runner: CliRunner;
  private readonly runDir: RunDir;
  private readonly env: NodeJS.ProcessEnv;
  private readonly serial = new Serial();
  private lastTeammate = "";

  constructor(private readonly options: Iterm2AdapterOptions = {}) {
    this.env = options.env ?? process.env;
    this.runner = new CliRunner("osascript", options.bin ?? "osascript", options.exec ?? defaultExec, this.env);
    this.runDir = new RunDir(options.runDir);
  }

  /** Open a session for `spec`: right of the lead first, then below the last teammate. */
  async spawn(spec: SpawnSpec): Promise<PaneRef> {
    validateSpec(spec);
    return this.serial.run(async () => {
      const pidFile = this.runDir.file("pid");
      const script = this.runDir.writePrivate("launch", ".sh", launchScript({ ...spec, pidFile }));
      const title = cleanTitle(spec.title);
      const lead = this.options.leadSession ?? sessionFromItermEnv(this.env.ITERM_SESSION_ID);
      const stdout = await this.runner.run(
        ["-e", SPAWN_SCRIPT, title, typedLine(script), this.lastTeammate, lead],
        "is iTerm2 running, and may this program control it (System Settings > Privacy & Security > Automation)?",
      );
      const sessionId = stdout.trim();
      if (!sessionId) throw new TerminalError("TERMINAL_COMMAND_FAILED", "iTerm2 did not return the new session's id");
      const pid = await readPidFile(pidFile, this.options.pidTimeoutMs);
      this.lastTeammate = sessionId;
      return { kind: this.kind, paneId: sessionId, pid, title };
    });
  }

  /** By pid when known, otherwise by whether iTerm2 still has the session. */
  async isAlive(pane: PaneRef): Promise<boolean> {
    if (pane.pid !== undefined) return isPidAlive(pane.pid);
    return (await this.runner.run(["-e", ALIVE_SCRIPT, pane.paneId])).trim() === "alive";
  }

  /** SIGTERM then SIGKILL the program's process group, then close the session if iTerm2 kept it. */
  async kill(pane: PaneRef): Promise<void> {
    const close = async () => {
      await this.runner.try(["-e", CLOSE_SCRIPT, pane.paneId]).catch(() => undefined);
    };
    if (pane.pid !== undefined) await terminate(pane.pid, { graceMs: this.options.graceMs, beforeKill: close });
    await close();
  }

  /** Teammates are already on screen, next to the lead. */
  attachHint(): string {
    return "teammates are in iTerm2 split panes to the right of the lead";
  }
}
