#!/usr/bin/env node
/**
 * Worker for the lock-free send / flat-combining event tests (test/flat.proc.test.ts),
 * using the compiled library in dist/. Prints "ready", then one line per
 * acknowledged operation, so a test can SIGKILL it anywhere and know what was acknowledged.
 *
 *   flat-worker.mjs events <team> <as> <n> <tag>   n appendEvent (0: forever); "ack <tag>.<i>" after each
 *   flat-worker.mjs send   <team> <as> <to> <n> <tag>  n sends (0: forever); "ack <id>" after each
 *   flat-worker.mjs read   <team> <as> <n> [stop]  n readInbox as the owner (0: forever, or until file <stop> exists); "read <id>" per message
 *   flat-worker.mjs mark   <team> <as> <n> [stop]  n times unreadPeek + markRead of the first half (same); "read <id>"
 *
 * With --wait, waits for a line on stdin after "ready" so that many workers really race.
 */
import fs from "node:fs";

import { argv, ctxAs, dist, say, started } from "./common.mjs";

const { appendEvent } = await import(new URL("events.js", dist));
const messages = await import(new URL("messages.js", dist));

const [mode, ...args] = argv;
const times = (n) => (Number(n) > 0 ? Number(n) : Infinity);
const stopped = (file) => Boolean(file) && fs.existsSync(file);
// An empty inbox is answered without any I/O wait: yield now and then so signals and pipes are served.
const breathe = () => new Promise((r) => setTimeout(r, 1));

await started();

switch (mode) {
  case "events": {
    const [team, as, n, tag] = args;
    const ctx = ctxAs(as);
    for (let i = 0; i < times(n); i++) {
      await appendEvent(ctx, team, "test.flat", { tag, i });
      say(`ack ${tag}.${i}`);
    }
    break;
  }
  case "send": {
    const [team, as, to, n, tag] = args;
    const ctx = ctxAs(as);
    for (let i = 0; i < times(n); i++) {
      const m = await messages.sendMessage(ctx, team, { recipient: to, content: `${tag}.${i}`, summary: "flat" });
      say(`ack ${m.id}`);
    }
    break;
  }
  case "read": {
    const [team, as, n, stop] = args;
    const ctx = ctxAs(as);
    for (let i = 0; i < times(n) && !stopped(stop); i++) {
      const r = await messages.readInbox(ctx, team);
      for (const m of r.messages) say(`read ${m.id}`);
      if (!r.messages.length) await breathe();
    }
    break;
  }
  case "mark": {
    const [team, as, n, stop] = args;
    const ctx = ctxAs(as);
    for (let i = 0; i < times(n) && !stopped(stop); i++) {
      const peek = messages.unreadPeek(ctx, team, as);
      const half = peek.slice(0, Math.ceil(peek.length / 2)).map((m) => m.id);
      await messages.markRead(ctx, team, as, half);
      for (const id of half) say(`read ${id}`);
      if (!half.length) await breathe();
    }
    break;
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exit(2);
}
