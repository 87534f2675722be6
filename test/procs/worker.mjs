#!/usr/bin/env node
/**
 * Worker for the real-process tests: one mode per run, talking to the data dir
 * in $CLANKER_TEAMS_DIR through the compiled library (dist/, built by
 * test/global-setup.ts). Prints "ready" once loaded, then one line per
 * acknowledged operation, so a test can kill it at any point and know exactly
 * what was acknowledged.
 *
 *   worker.mjs send   <team> <from> <to> <n>               n sends; "ack <id>" after each
 *   worker.mjs create <team> <as> <n>                      n creates; "ack <id>" after each
 *   worker.mjs update <team> <id> <field> <n>              n updates of one field; "ack <value>"
 *   worker.mjs claim  <team> <as>                          one task_claim; "claimed <id>" or "none"
 *   worker.mjs lease  <team> <as>                          presence (own pid) + task_claim, then heartbeats forever
 *   worker.mjs chaos  <team> <as> <to> <tag>               sends, creates, updates, reads forever
 *   worker.mjs hold   <file> <ms>                          holds the lock of <file> for ms ("holding"/"released <t>")
 *
 * With --wait, the worker loads, prints "ready" and waits for a line on stdin
 * before starting, so that many workers really race.
 */
import { argv, ctxAs, dist, say, started } from "./common.mjs";

const tasks = await import(new URL("tasks.js", dist));
const messages = await import(new URL("messages.js", dist));
const { withLock } = await import(new URL("store/lock.js", dist));
const presence = await import(new URL("presence.js", dist));

const [mode, ...args] = argv;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await started();

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
  case "claim": {
    const [team, as] = args;
    const r = await tasks.claimTask(ctxAs(as), team);
    say(r.task ? `claimed ${r.task.id}` : "none");
    break;
  }
  case "lease": {
    const [team, as] = args;
    const ctx = ctxAs(as);
    await presence.writePresence(ctx, team, as, { state: "busy", heartbeatAt: Date.now() });
    const r = await tasks.claimTask(ctx, team);
    say(r.task ? `claimed ${r.task.id}` : "none");
    for (;;) {
      await sleep(1000);
      await presence.writePresence(ctx, team, as, { heartbeatAt: Date.now() });
    }
  }
  case "chaos": {
    const [team, as, to, tag] = args;
    const ctx = ctxAs(as);
    const reader = ctxAs(to);
    for (let i = 0; ; i++) {
      const m = await messages.sendMessage(ctx, team, { recipient: to, content: `${tag}.${i}`, summary: "chaos" });
      say(`msg ${m.id}`);
      if (i % 3 === 0) {
        const t = await tasks.createTask(ctx, team, { subject: `${tag}.${i}`, description: "chaos" });
        say(`task ${t.id} ${t.subject}`);
      }
      if (i % 3 === 1) {
        const list = tasks.listTasks(ctx, team);
        if (list.length) {
          const pick = list[i % list.length];
          const st = i % 2 ? "in_progress" : "pending";
          const r = await tasks.updateTask(ctx, team, pick.id, { active_form: `${tag}.${i}`, status: st });
          say(`upd ${r.task.id} ${tag}.${i}`);
        }
      }
      if (i % 5 === 4) await messages.readInbox(reader, team);
    }
  }
  case "hold": {
    const [file, ms] = args;
    await withLock(file, async () => {
      say(`holding ${Date.now()}`);
      await sleep(Number(ms));
      say(`released ${Date.now()}`);
    });
    break;
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exit(2);
}
