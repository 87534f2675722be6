/**
 * Every path of the JSON store, built from validated names only (DESIGN
 * invariant 3). The documented files (docs/storage.md) and the log they are
 * derived from.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { validateName, validateTaskId } from "../../names.js";

export const SEGMENT_RE = /^(\d{6,})\.jsonl$/;
export const SNAPSHOT_RE = /^snapshot-(\d{6,})\.json$/;

export class Layout {
  constructor(readonly root: string) {}
  teamsRoot() { return path.join(this.root, "teams"); }
  teamDir(team: string) { return path.join(this.root, "teams", validateName("team_name", team)); }
  teamConfig(team: string) { return path.join(this.teamDir(team), "config.json"); }
  runtimeDir(team: string) { return path.join(this.teamDir(team), "runtime"); }
  runtimeFile(team: string, agent: string) { return path.join(this.runtimeDir(team), `${validateName("agent_name", agent)}.json`); }
  /** What a named lock (withLock) is taken on: `<this>.lock` is the lock directory. */
  namedLock(team: string, name: string) {
    const enc = encodeURIComponent(name).replace(/\./g, "%2E").toLowerCase();
    // Encoding triples non-ASCII names: a long one goes by its hash, so the lock's file name stays under 255 bytes.
    const base = enc.length <= 120 ? enc : `${enc.slice(0, 60)}~${createHash("sha256").update(enc).digest("hex").slice(0, 32)}`;
    return path.join(this.runtimeDir(team), `${base}.named`);
  }
  events(team: string) { return path.join(this.teamDir(team), "events.jsonl"); }
  docsDir(team: string) { return path.join(this.teamDir(team), "docs"); }
  docFile(team: string, coll: string) { return path.join(this.docsDir(team), `${encodeURIComponent(coll).replace(/\./g, "%2E")}.json`); }
  // The log: the commit point of every change to tasks, mail, documents and events.
  walDir(team: string) { return path.join(this.teamDir(team), "wal"); }
  segment(team: string, n: number) { return path.join(this.walDir(team), `${String(n).padStart(6, "0")}.jsonl`); }
  snapshot(team: string, n: number) { return path.join(this.walDir(team), `snapshot-${String(n).padStart(6, "0")}.json`); }
  /** How far the documented files are current. */
  materialized(team: string) { return path.join(this.walDir(team), "materialized.json"); }
  /** Lock taken while the documented files are written and while the log is rotated (a snapshot relies on those files). */
  materializeLock(team: string) { return path.join(this.teamDir(team), "materialize"); }
  tasksDir(team: string) { return path.join(this.root, "tasks", validateName("team_name", team)); }
  taskIndex(team: string) { return path.join(this.tasksDir(team), "tasks.json"); }
  taskFile(team: string, id: string) { return path.join(this.tasksDir(team), `task_${validateTaskId("task_id", id)}.json`); }
  messagesDir(team: string) { return path.join(this.root, "messages", validateName("team_name", team)); }
  inbox(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.json`); }
  archiveDir(team: string) { return path.join(this.messagesDir(team), "archive"); }
  archive(team: string, agent: string) { return path.join(this.archiveDir(team), `${validateName("agent_name", agent)}.jsonl`); }
  // Files of the format before the log (imported once, then removed).
  legacySpool(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.jsonl`); }
  legacySpoolTaking(team: string, agent: string) { return path.join(this.messagesDir(team), `${validateName("agent_name", agent)}.spool.taking.jsonl`); }
}
