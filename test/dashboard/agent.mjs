#!/usr/bin/env node
/**
 * An agent process for the dashboard's browser tests: another OS process on
 * the same store (CLANKER_TEAMS_DB, else CLANKER_TEAMS_DIR), acting as NAME
 * through the compiled tool table, as a teammate's host does.
 *
 *   agent.mjs TEAM NAME [--presence STATE]
 *
 * Prints "ready", then for each stdin line {"tool": …, "args": {…}} runs the
 * tool and prints "result <json>" ({ok, text, details} or {ok: false, error}).
 * With --presence it keeps a presence (its own pid, this host, STATE) fresh
 * every second, and watches its inbox like the extension does: each message
 * that arrives is marked read and printed as "mail <json message>".
 */
const dist = new URL("../../dist/src/", import.meta.url);
const { makeCtx, callTool, writePresence, unreadPeek, markRead } = await import(new URL("index.js", dist));

const args = process.argv.slice(2);
const [team, name] = args;
const presence = args.includes("--presence") ? args[args.indexOf("--presence") + 1] : undefined;
const ctx = makeCtx({ actor: name, runHook: async () => ({ ran: false, outcome: "missing" }) });
const say = (line) => process.stdout.write(line + "\n");

if (presence) {
  await writePresence(ctx, team, name, { state: presence, startedAt: new Date().toISOString() });
  setInterval(() => void writePresence(ctx, team, name, { state: presence }).catch(() => undefined), 1000);
  let busy = false;
  const deliver = async () => {
    if (busy) return;
    busy = true;
    try {
      const msgs = await unreadPeek(ctx, team, name);
      if (msgs.length) {
        await markRead(ctx, team, name, msgs.map((m) => m.id));
        for (const m of msgs) say(`mail ${JSON.stringify(m)}`);
      }
    } finally {
      busy = false;
    }
  };
  ctx.store.watch(team, { inbox: name }, () => void deliver());
  await deliver();
}

say("ready");
let buf = "";
process.stdin.on("data", async (b) => {
  buf += b.toString("utf8");
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (!line.trim()) continue;
    const { tool, args: a } = JSON.parse(line);
    try {
      const r = await callTool(ctx, tool, a);
      say(`result ${JSON.stringify({ ok: true, text: r.text, details: r.details })}`);
    } catch (e) {
      say(`result ${JSON.stringify({ ok: false, error: e.message })}`);
    }
  }
});
process.stdin.on("end", async () => {
  if (presence) await writePresence(ctx, team, name, { state: "stopped" }).catch(() => undefined);
  await ctx.store.close();
  process.exit(0);
});
