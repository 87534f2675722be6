/** Errors raised by the terminal adapters. */

export type TerminalErrorCode =
  | "TERMINAL_NOT_INSTALLED"
  | "TERMINAL_COMMAND_FAILED"
  | "TERMINAL_NOT_DETECTED"
  | "INVALID_SPAWN_SPEC"
  | "INVALID_PANE";

/** An error from a terminal adapter; `code` says what kind, the message says what to do. */
export class TerminalError extends Error {
  readonly code: TerminalErrorCode;

  constructor(code: TerminalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
    this.code = code;
  }
}
