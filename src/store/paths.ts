/** Compatibility: the name validator moved to src/names.ts, the data directory to store/open.ts. */
export { LEAD_NAME, MAX_NAME_LENGTH, MAX_NAME_BYTES, validateName, validateTaskId } from "../names.js";
export { dataDir } from "./open.js";
import path from "node:path";
import { validateName, validateTaskId } from "../names.js";

/** Path builder bound to one data directory. */
export class Paths {
  constructor(readonly root: string) {}
  teamDir(team: string) { return path.join(this.root, "teams", validateName("team_name", team)); }
  teamConfig(team: string) { return path.join(this.teamDir(team), "config.json"); }
  runtimeDir(team: string) { return path.join(this.teamDir(team), "runtime"); }
  runtimeFile(team: string, agent: string) { return path.join(this.runtimeDir(team), `${validateName("agent_name", agent)}.json`); }
  /** Locked while a teammate of that name (case-insensitive) is being spawned. */
  spawnLock(team: string, agent: string) { return path.join(this.runtimeDir(team), `${validateName("agent_name", agent).toLowerCase()}.spawn`); }
  events(team: string) { return path.join(this.teamDir(team), "events.jsonl"); }
  /** Events not numbered yet, and the batch a drainer is numbering (docs/storage.md, "Events"). */
  eventsPending(team: string) { return path.join(this.teamDir(team), "events.pending.jsonl"); }
  eventsTaking(team: string) { return path.join(this.teamDir(team), "events.taking.jsonl"); }
  tasksDir(team: string) { return path.join(this.root, "tasks", validateName("team_name", team)); }
  taskIndex(team: string) { return path.join(this.tasksDir(team), "tasks.json"); }
  taskFile(team: string, id: string) { return path.join(this.tasksDir(team), `task_${validateTaskId("task_id", id)}.json`); }
  /** The index's change log since the snapshot. */
  taskLog(team: string) { return path.join(this.tasksDir(team), "tasks.log.jsonl"); }
  /** Commit record of a transaction over several tasks. */
  taskIntent(team: string) { return path.join(this.tasksDir(team), "tx.json"); }
  /** Id tickets for creators. */
  taskTickets(team: string) { return path.join(this.tasksDir(team), "ids.tickets"); }
  /** What one task's lock directory is named after (the lock is `<this>.lock`), away from the task files. */
  taskLock(team: string, id: string) { return path.join(this.tasksDir(team), "locks", `task_${validateTaskId("task_id", id)}`); }
  messagesDir(team: string) { return path.join(this.root, "messages", validateName("team_name", team)); }
  inbox(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.json`); }
  /** Unread messages not yet merged into the inbox file (append-only; see docs/storage.md). */
  spool(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.jsonl`); }
  /** Where a reader puts the spool while it merges it (a leftover one means that reader died). */
  spoolTaking(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.taking.jsonl`); }
  messageIndex(team: string) { return path.join(this.messagesDir(team), "index.json"); }
  archiveDir(team: string) { return path.join(this.messagesDir(team), "archive"); }
  archive(team: string, agent: string) { return path.join(this.archiveDir(team), `${validateName("agent_name", agent)}.jsonl`); }
  teamsRoot() { return path.join(this.root, "teams"); }
}
