/**
 * A member process for the coordination tests: opens the store its
 * environment selects (CLANKER_TEAMS_DB, else CLANKER_TEAMS_DIR) from dist/,
 * like a teammate on another host.
 *
 * - `race TEAM AGENT ROUNDS SEED [--wait]`: ROUNDS times, reserves one or two
 *   overlapping globs (exclusive three times in four), holds them a moment and
 *   releases them; prints `result {"got":N,"refused":M}`.
 * - `hold TEAM AGENT PATTERN HEARTBEAT_MS`: keeps a presence (heartbeat every
 *   HEARTBEAT_MS), reserves PATTERN exclusively, prints `held`, then waits to
 *   be killed.
 */
import { argv, ctxAs, dist, say, started } from "./common.mjs";

const { reserveFiles, releaseFiles } = await import(new URL("domain/reservations.js", dist));
const { writePresence } = await import(new URL("domain/presence.js", dist));

const [mode, team, agent, ...rest] = argv;
const where = { cwd: "/repo", root: "/repo" };
const POOL = ["src/**", "src/a/*.ts", "src/a/x.ts", "src/*/x.ts", "**/x.ts", "src/b/**", "docs/**", "src/a/**", "*.md", "src/?/x.ts", "docs/api.md", "README.md"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator (mulberry32): each worker's choices differ but runs repeat. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ctx = ctxAs(agent);
if (mode === "race") {
  const [rounds, seed] = rest.map(Number);
  const rand = rng(seed);
  await ctx.store.now(); // connected before the race
  await started();
  let got = 0;
  let refused = 0;
  for (let i = 0; i < rounds; i++) {
    const paths = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 2) }, () => POOL[Math.floor(rand() * POOL.length)]))];
    try {
      await reserveFiles(ctx, team, { paths, exclusive: rand() < 0.75 }, where);
      got++;
      await sleep(Math.floor(rand() * 4));
      await releaseFiles(ctx, team, { paths }, where);
    } catch (e) {
      if (e?.code !== "CONFLICT") throw e;
      refused++;
    }
  }
  say(`result ${JSON.stringify({ got, refused })}`);
  await ctx.store.close();
} else if (mode === "hold") {
  const [pattern, beat] = rest;
  const now = new Date().toISOString();
  await writePresence(ctx, team, agent, { state: "busy", startedAt: now });
  setInterval(() => void writePresence(ctx, team, agent, { state: "busy" }).catch(() => undefined), Number(beat));
  await reserveFiles(ctx, team, { paths: [pattern], reason: "held by a process" }, where);
  await started();
  say("held");
} else {
  throw new Error(`unknown mode ${mode}`);
}
