/**
 * What every test worker shares: the compiled library (dist/, built by
 * test/global-setup.ts), its arguments without --wait, one line per output,
 * and the start protocol: print "ready" once loaded and, with --wait, wait
 * for a line on stdin before starting, so that many workers really race.
 */
export const dist = new URL("../../dist/src/", import.meta.url);
const { makeCtx } = await import(new URL("context.js", dist));

const raw = process.argv.slice(2);
const wait = raw.includes("--wait");
/** The worker's arguments (mode first), --wait taken out. */
export const argv = raw.filter((a) => a !== "--wait");
export const say = (line) => process.stdout.write(line + "\n");
/** A context acting as `actor`, with no completion hook. */
export const ctxAs = (actor) => makeCtx({ actor, runHook: async () => ({ ran: false, outcome: "missing" }) });

/** Call once the worker has loaded what it needs. */
export async function started() {
  say("ready");
  if (wait) await new Promise((r) => process.stdin.once("data", r));
  process.stdin.destroy();
}
