/** One error class for the whole package; hosts turn it into a tool error at the edge. */

export type ErrorCode =
  | "INVALID_INPUT" // a parameter is wrong; the message names it and the fix
  | "NOT_FOUND" // team, task, member or tool does not exist
  | "CONFLICT" // already exists, cycle, concurrent claim lost
  | "FORBIDDEN" // the caller may not do this (not owner, not lead)
  | "BLOCKED" // a task dependency is unfinished
  | "LOCKED" // a lock could not be taken in time
  | "CORRUPT" // a data file could not be parsed (moved aside)
  | "IO"; // the file system refused

export class TeamsError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "TeamsError";
    this.code = code;
    this.details = details;
  }
}

/** Shorthand for an INVALID_INPUT error about one field. */
export function invalid(field: string, message: string): TeamsError {
  return new TeamsError("INVALID_INPUT", `${field}: ${message}`, { field });
}

export function isTeamsError(e: unknown): e is TeamsError {
  return e instanceof TeamsError;
}
