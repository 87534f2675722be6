#!/usr/bin/env node
/**
 * Worker for the real-process tests: one mode per run, talking to the data dir
 * in $CLANKER_TEAMS_DIR through the compiled domain (dist/, built by
 * test/global-setup.ts). Prints "ready" once loaded, then one line per
 * acknowledged operation, so a test can kill it at any point and know exactly
 * what was acknowledged.
 *
 *   worker.mjs send      <team> <from> <to> <n>      n sends; "ack <id>" after each
 *   worker.mjs create    <team> <as> <n>             n creates; "ack <id>" after each
 *   worker.mjs update    <team> <id> <field> <n>     n updates of one field; "ack <value>"
 *   worker.mjs claim-all <team> <as>                 task_claim until none is left; "claimed <id> <epoch>" each, then "none"
 *   worker.mjs lease     <team> <as>                 presence (own pid, a session) + task_claim, heartbeats every 300 ms;
 *                                                    then per stdin line "update <id> <status>": "ok <status>",
 *                                                    "progress <id> <text>" (active_form): "noted <id> <text>",
 *                                                    "send <to> <text>": "sent <id> <text>", "create <subject>": "created <id> <subject>";
 *                                                    a failed one: "refused <code> <message>"
 *   worker.mjs touch     <team> <as> <ids> <n>       n updates of active_form (every other one also owner) on the comma-separated ids; "u <id> <value>"
 *   worker.mjs edges     <team> <as> <max> <n>       n dependency edits (add or remove) among tasks 1..max; "e <id> <blocker>" for each that applied
 *   worker.mjs chaos     <team> <as> <to> <tag>      sends, creates, updates, claims, reads forever
 *   worker.mjs create-and-hang <team> <as>          one create ("ack <id>"), then blocks its event loop (no timer runs) until killed
 *   worker.mjs hold-config <team>                   an edit of the team config that never ends ("holding"): holds its lock until killed
 *
 * With --wait, the worker loads, prints "ready" and waits for a line on stdin
 * before starting, so that many workers really race.
 */
import { argv, ctxAs, dist, lines, say, started } from "./common.mjs";

const tasks = await import(new URL("domain/tasks.js", dist));
const messages = await import(new URL("domain/messages.js", dist));
const presence = await import(new URL("domain/presence.js", dist));
const teams = await import(new URL("domain/teams.js", dist));

const [mode, ...args] = argv;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hang = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

if (mode !== "lease") await started();

switch (mode) {
  case "send": {
    const [team, from, to, n] = args;
    const ctx = ctxAs(from);
    for (let i = 0; i < Number(n); i++) {
      const m = await messages.sendMessage(ctx, team, { recipient: to, content: `${from} #${i}`, summary: `${from} ${i}` });
      say(`ack ${m.id}`);
    }
    break;
  }
  case "create": {
    const [team, as, n] = args;
    const ctx = ctxAs(as);
    for (let i = 0; i < Number(n); i++) {
      const t = await tasks.createTask(ctx, team, { subject: `${as} ${i}`, description: "" });
      say(`ack ${t.id}`);
    }
    break;
  }
  case "update": {
    const [team, id, field, n] = args;
    const ctx = ctxAs("team-lead");
    const values = {
      subject: (i) => `subject ${i}`,
      description: (i) => `description ${i}`,
      active_form: (i) => `active ${i}`,
      owner: (i) => (i % 2 ? "dev" : "qa"),
      status: (i) => (i % 2 ? "in_progress" : "pending"),
    };
    for (let i = 0; i < Number(n); i++) {
      const v = values[field](i);
      await tasks.updateTask(ctx, team, id, { [field]: v });
      say(`ack ${v}`);
    }
    break;
  }
  case "claim-all": {
    const [team, as] = args;
    const ctx = ctxAs(as, { session: true });
    for (;;) {
      const r = await tasks.claimTask(ctx, team);
      if (!r.task) break;
      say(`claimed ${r.task.id} ${r.task.epoch}`);
    }
    say("none");
    break;
  }
  case "lease": {
    const [team, as] = args;
    const ctx = ctxAs(as, { session: true });
    const next = lines();
    await presence.writePresence(ctx, team, as, { state: "busy" });
    say("ready");
    const r = await tasks.claimTask(ctx, team);
    say(r.task ? `claimed ${r.task.id} ${r.task.epoch}` : "none");
    setInterval(() => void presence.writePresence(ctx, team, as, { state: "busy" }).catch(() => undefined), 300);
    for (;;) {
      const line = (await next()).trim();
      const [cmd, a, b] = line.split(" ");
      const rest = (n) => line.split(" ").slice(n).join(" ");
      try {
        if (cmd === "update") {
          const u = await tasks.updateTask(ctx, team, a, { status: b });
          say(`ok ${u.task.status}`);
        } else if (cmd === "progress") {
          const u = await tasks.updateTask(ctx, team, a, { active_form: rest(2) });
          say(`noted ${u.task.id} ${u.task.activeForm}`);
        } else if (cmd === "send") {
          const m = await messages.sendMessage(ctx, team, { recipient: a, content: rest(2), summary: rest(2).slice(0, 40) });
          say(`sent ${m.id} ${rest(2)}`);
        } else if (cmd === "create") {
          const t = await tasks.createTask(ctx, team, { subject: rest(1), description: "" });
          say(`created ${t.id} ${t.subject}`);
        } else break;
      } catch (e) {
        say(`refused ${e.code} ${e.message}`);
      }
    }
    process.exit(0);
  }
  case "touch": {
    const [team, as, ids, n] = args;
    const ctx = ctxAs(as);
    const list = ids.split(",");
    for (let i = 0; i < Number(n); i++) {
      const id = list[Math.floor(Math.random() * list.length)];
      const input = i % 2 ? { active_form: `${as}.${i}` } : { active_form: `${as}.${i}`, owner: i % 4 ? as : "" };
      await tasks.updateTask(ctx, team, id, input);
      say(`u ${id} ${as}.${i}`);
    }
    break;
  }
  case "edges": {
    const [team, as, max, n] = args;
    const ctx = ctxAs(as);
    const pick = () => String(1 + Math.floor(Math.random() * Number(max)));
    for (let i = 0; i < Number(n); i++) {
      const a = pick();
      const b = pick();
      try {
        await tasks.updateTask(ctx, team, a, i % 3 ? { add_blocked_by: [b] } : { remove_blocked_by: [b] });
        say(`e ${a} ${b}`);
      } catch (e) {
        if (!["CONFLICT", "INVALID_INPUT"].includes(e.code)) throw e; // a cycle, or a task blocking itself
      }
    }
    break;
  }
  case "chaos": {
    const [team, as, to, tag] = args;
    const ctx = ctxAs(as, { session: true });
    const reader = ctxAs(to);
    for (let i = 0; ; i++) {
      const m = await messages.sendMessage(ctx, team, { recipient: to, content: `${tag}.${i}`, summary: "chaos" });
      say(`msg ${m.id}`);
      if (i % 3 === 0) {
        const t = await tasks.createTask(ctx, team, { subject: `${tag}.${i}`, description: "chaos" });
        say(`task ${t.id} ${t.subject}`);
      }
      if (i % 3 === 1) {
        const list = (await tasks.listTasks(ctx, team)).filter((s) => !s.owner || s.owner === as);
        if (list.length) {
          const pick = list[i % list.length];
          const st = i % 2 ? "in_progress" : "pending";
          try {
            const r = await tasks.updateTask(ctx, team, pick.id, { active_form: `${tag}.${i}`, status: st });
            say(`upd ${r.task.id} ${tag}.${i}`);
          } catch (e) {
            if (e.code !== "FORBIDDEN") throw e; // the other writer claimed it since the list
          }
        }
      }
      if (i % 3 === 2) {
        const r = await tasks.claimTask(ctx, team);
        if (r.task) say(`claim ${r.task.id} ${as}`);
      }
      if (i % 5 === 4) await messages.readInbox(reader, team);
    }
  }
  case "create-and-hang": {
    const [team, as] = args;
    const t = await tasks.createTask(ctxAs(as), team, { subject: `made by ${as}`, description: "" });
    say(`ack ${t.id}`);
    hang();
    break;
  }
  case "hold-config": {
    const [team] = args;
    await teams.updateTeam(ctxAs("team-lead"), team, () => {
      say("holding");
      hang();
      return { value: undefined, write: false };
    });
    break;
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exit(2);
}
