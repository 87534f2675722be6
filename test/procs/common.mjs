/**
 * What every test worker shares: the compiled library (dist/, built by
 * test/global-setup.ts), its arguments without --wait, one line per output,
 * and the start protocol: print "ready" once loaded and, with --wait, wait
 * for a line on stdin before starting, so that many workers really race.
 */
export const dist = new URL("../../dist/src/", import.meta.url);
const { makeCtx, newSession } = await import(new URL("context.js", dist));

const raw = process.argv.slice(2);
const wait = raw.includes("--wait");
/** The worker's arguments (mode first), --wait taken out. */
export const argv = raw.filter((a) => a !== "--wait");
export const say = (line) => process.stdout.write(line + "\n");
/** A context acting as `actor`, with no completion hook; `session: true` gives it a host session (claims record it). */
export const ctxAs = (actor, opts = {}) => makeCtx({ actor, runHook: async () => ({ ran: false, outcome: "missing" }), session: opts.session ? newSession() : undefined });

/** Call once the worker has loaded what it needs. */
export async function started() {
  say("ready");
  if (wait) await new Promise((r) => process.stdin.once("data", r));
  process.stdin.destroy();
}

/** stdin as lines, for workers that take commands after they started (no --wait then); "" once stdin ends. */
export function lines() {
  let buf = "";
  const queue = [];
  const waiting = [];
  process.stdin.on("data", (b) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l); else queue.push(l);
    }
  });
  let ended = false;
  process.stdin.on("end", () => { ended = true; for (const w of waiting.splice(0)) w(""); });
  return () => (queue.length ? Promise.resolve(queue.shift()) : ended ? Promise.resolve("") : new Promise((r) => waiting.push(r)));
}
