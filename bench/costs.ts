/**
 * What one JSON-store operation costs, piece by piece, in one process on
 * tmpfs (no disk wait): the whole operations, and the pieces on their commit
 * path with how often each runs per operation (counted by reading the code
 * paths; the file calls are confirmed by json.inodes). Each figure is the
 * median over batches of the per-call time, so a batch that lost the CPU to
 * another process does not count. Guides the CPU path's optimisation.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createTask, readInbox, sendMessage, updateTask, validateName, type Task } from "../src/index.js";
import { requireMember } from "../src/domain/teams.js";
import { NEW_ID_PREFIX, TeamState, replaceIds, type Rec } from "../src/store/json/state.js";
import { Layout } from "../src/store/json/layout.js";
import { TEAM, makeTeam, withStore } from "./common.js";
import { appendSyncSamples } from "./prims.js";
import { median, stats, type Metric, type RepeatResult } from "./util.js";

/** Median per-call µs over `batches` batches of `k` calls. */
async function per(k: number, fn: (i: number) => unknown, batches = 15): Promise<number> {
  for (let i = 0; i < Math.min(k, 50); i++) await fn(-1 - i);
  const out: number[] = [];
  let i = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let j = 0; j < k; j++) await fn(i++);
    out.push(((performance.now() - t0) * 1000) / k);
  }
  return median(out);
}

export async function costsScenario(quick: boolean): Promise<RepeatResult> {
  return withStore("json-tmpfs", "costs", async (s) => {
    const members = Array.from({ length: 16 }, (_, i) => `w${i + 1}`);
    const lead = s.ctx("team-lead");
    const w1 = s.ctx("w1");
    await makeTeam(lead, TEAM, members);
    const k = quick ? 100 : 400;
    const ops = quick ? 200 : 600;
    const dir = s.ref.dataDir!;
    const layout = new Layout(dir);
    const cfg = (await lead.store.getTeam(TEAM))!;

    // Whole operations, one process, tmpfs: p50 of single calls.
    const lat = async (n: number, fn: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await fn(-1 - i);
      const xs: number[] = [];
      for (let i = 0; i < n; i++) { const t0 = performance.now(); await fn(i); xs.push((performance.now() - t0) * 1000); }
      return stats(xs).p50;
    };
    const send = await lat(ops, (i) => sendMessage(w1, TEAM, { recipient: "team-lead", content: `cost probe ${i} ${"lorem ipsum ".repeat(6)}`, summary: "probe" }));
    const tasks: Task[] = [];
    const create = await lat(ops, async (i) => { tasks.push(await createTask(w1, TEAM, { subject: `cost ${i}`, description: `description ${i}` })); });
    const update = await lat(ops, (i) => updateTask(w1, TEAM, tasks[Math.abs(i) % tasks.length].id, { active_form: `step ${i}` }));
    const readOne = await lat(Math.min(ops, 200), async (i) => {
      await sendMessage(w1, TEAM, { recipient: "team-lead", content: `one ${i}`, summary: "one" });
      return readInbox(lead, TEAM);
    });

    // The pieces.
    const scratch = fs.mkdtempSync(path.join(s.fsDir, "costs-"));
    const file = path.join(scratch, "log.jsonl");
    const appendSync = median(appendSyncSamples(file, k).lat) * 1000;
    const fd = fs.openSync(file, "r");
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(4096);
    const fstat = await per(k, () => fs.fstatSync(fd));
    const readEnd = await per(k, () => fs.readSync(fd, buf, 0, buf.length, size));
    fs.closeSync(fd);
    const cfgFile = layout.teamConfig(TEAM);
    const lstatBig = await per(k, () => fs.lstatSync(cfgFile, { bigint: true }));
    const getTeam = await per(k, () => lead.store.getTeam(TEAM));
    const cfgText = fs.readFileSync(cfgFile, "utf8");
    const parseCfg = await per(k, () => JSON.parse(cfgText));
    const vName = await per(k, () => validateName("agent_name", "team-lead"));
    const reqMember = await per(k, () => requireMember(cfg, "owner", "w9"));
    const layoutPath = await per(k, () => layout.taskFile(TEAM, "42"));
    const nonce = await per(k, () => randomBytes(9).toString("base64url"));
    // Records as the log holds them: a create and an edit of this run.
    const log = fs.readFileSync(path.join(dir, "teams", TEAM, "wal", "000001.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Rec);
    const createRec = JSON.stringify(log.find((r) => r.op === "create"));
    const editRec = JSON.stringify(log.find((r) => r.op === "edit"));
    const msgRec = JSON.stringify(log.find((r) => r.op === "msg"));
    const parseCreate = await per(k, () => JSON.parse(createRec));
    const parseEdit = await per(k, () => JSON.parse(editRec));
    const st = new TeamState();
    const applyCreate = await per(k, () => st.apply(JSON.parse(createRec)));
    const createObj = JSON.parse(createRec) as Extract<Rec, { op: "create" }>;
    const walk = await per(k, () => replaceIds({ task: createObj.task, ev: createObj.ev }, new Map([[`${NEW_ID_PREFIX}0`, "42"]])));
    const applyEdit = await per(k, () => { const r = JSON.parse(editRec); r.base = st.lsn; return st.apply(r); });
    const applyMsg = await per(k, () => st.apply(JSON.parse(msgRec)));
    const stringifyEdit = await per(k, () => JSON.stringify(JSON.parse(editRec)));
    fs.rmSync(scratch, { recursive: true, force: true });

    const m = (name: string, value: number, unit = "µs"): Metric => ({ name, value, unit });
    return {
      metrics: [
        m("sendMessage p50 (tmpfs, one process)", send),
        m("createTask p50", create),
        m("updateTask p50", update),
        m("send 1 + readInbox of it, p50 (both)", readOne),
        m("append + fdatasync, tmpfs", appendSync),
        m("fstat of the log (3 per op)", fstat),
        m("read() at the end, 0 bytes (a stat-free catch-up)", readEnd),
        m("lstat bigint of config.json (2 per op)", lstatBig),
        m("store.getTeam, cached (2 per op)", getTeam),
        m(`JSON.parse of config.json (${cfgText.length} B; inside getTeam)`, parseCfg),
        m("validateName (4+ per op)", vName),
        m("requireMember, 17 members (1–2 per op)", reqMember),
        m("Layout.taskFile (path + 2 validations)", layoutPath),
        m("record nonce: randomBytes(9) (1 per op)", nonce),
        m(`JSON.parse create record (${createRec.length} B)`, parseCreate),
        m(`JSON.parse edit record (${editRec.length} B)`, parseEdit),
        m("parse + apply create (every process, per create)", applyCreate),
        m("  of which replaceIds (deep copy of task + events)", walk),
        m("parse + apply edit (every process, per update)", applyEdit),
        m("parse + apply msg (every process, per send)", applyMsg),
        m("JSON.stringify edit record", stringifyEdit),
      ],
      prims: {},
      checks: [],
      details: { k, ops, records: { create: createRec.length, edit: editRec.length, msg: msgRec.length } },
    };
  });
}
