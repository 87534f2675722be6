/**
 * Idle delivery latency: a real pi (RPC mode, scripted model, no network) runs
 * the extension as a teammate and sits idle; the benchmark sends messages one
 * at a time with the library's sendMessage and measures send → the
 * recipient's new agent run (`agent_start` on pi's RPC stream). Target: p99 ≤ 1 s.
 * On the JSON store by default; `db` runs pi and the sender on a PostgreSQL
 * database instead (pi then learns of the send through LISTEN/NOTIFY).
 *
 * Correctness is checked too, and a failure throws: every message starts
 * exactly one run, the model sees its full text exactly once, each is marked
 * read exactly once in the store and nothing is left unread. Self-contained
 * (no test helpers) so `node dist/bench/…` can run it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { addMember, createTeam, makeCtx, readHistory, sendMessage, unreadPeek } from "../src/index.js";

export interface DeliveryOptions {
  messages: number;
  version: "0.73" | "0.55";
  /** Pause between one run ending and the next send (ms, default 100). */
  gapMs?: number;
  /** A PostgreSQL URL: pi and the sender use that database instead of a JSON data dir. */
  db?: string;
}

export interface DeliveryResult { p50: number; p99: number; max: number; n: number; min: number; mean: number; samples: number[] }

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The repository root: the nearest ancestor with clanker-teams' package.json. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name === "clanker-teams") return dir;
    } catch { /* keep going up */ }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("benchDelivery: cannot find the clanker-teams repository root");
    dir = up;
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

type Ev = { type: string; at: number; [k: string]: any };

/** Runs the benchmark; throws if any message is lost, duplicated or truncated. */
export async function benchDelivery(opts: DeliveryOptions): Promise<DeliveryResult> {
  const root = repoRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clanker-bench-delivery-"));
  const dataDir = path.join(tmp, "clanker");
  const scriptFile = path.join(tmp, "script.json");
  const team = "bench";
  const agent = "bencher";
  const nonce = Math.random().toString(36).slice(2, 8);
  fs.writeFileSync(scriptFile, JSON.stringify({ rules: [{ when: "BENCH-(\\d+)", on: "user", reply: { text: "got ${1}" } }], default: { text: "ok" }, maxCalls: 100_000 }));
  for (const d of ["home", "agent", "work"]) fs.mkdirSync(path.join(tmp, d), { recursive: true });
  const lead = makeCtx({ dataDir, db: opts.db, actor: "team-lead", cwd: tmp, env: {} });
  await createTeam(lead, { team_name: team });
  await addMember(lead, team, { name: agent, role: "teammate" });

  const pkg = opts.version === "0.73" ? "@mariozechner/pi-coding-agent" : "pi055";
  const args = [
    path.join(root, "node_modules", pkg, "dist", "cli.js"),
    "--no-session", "--no-extensions", "--no-skills", "--no-prompt-templates", "--no-themes",
    ...(opts.version === "0.73" ? ["--no-context-files"] : []),
    "-e", path.join(root, "test", "support", "scripted-provider.ts"),
    "-e", path.join(root, "dist", "src", "hosts", "pi-extension.js"),
    "--model", "scripted/scripted-1", "--mode", "rpc",
  ];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", TERM: "dumb",
    HOME: path.join(tmp, "home"), PI_CODING_AGENT_DIR: path.join(tmp, "agent"), PI_OFFLINE: "1",
    PI_SKIP_VERSION_CHECK: "1", PI_TELEMETRY: "0",
    CLANKER_TEAMS_DIR: dataDir, CLANKER_TEST_SCRIPT: scriptFile, CLANKER_TEAM_NAME: team, CLANKER_AGENT_NAME: agent,
    ...(opts.db ? { CLANKER_TEAMS_DB: opts.db } : {}),
  };
  const child = spawn(process.execPath, args, { cwd: path.join(tmp, "work"), env, stdio: ["pipe", "pipe", "pipe"] });
  const events: Ev[] = [];
  let stderr = "";
  let buf = "";
  let wake: (() => void) | undefined;
  let exited = false;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    const at = now();
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try { events.push({ ...JSON.parse(line), at }); } catch { /* not JSON */ }
    }
    wake?.();
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => { stderr = (stderr + c).slice(-4000); });
  child.on("exit", () => { exited = true; wake?.(); });

  async function waitFor(pred: (e: Ev) => boolean, from: number, timeoutMs: number, what: string): Promise<Ev> {
    const end = Date.now() + timeoutMs;
    for (let i = from; ; ) {
      for (; i < events.length; i++) if (pred(events[i]!)) return events[i]!;
      if (exited) throw new Error(`benchDelivery: pi exited while waiting for ${what}; stderr: ${stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`benchDelivery: timed out waiting for ${what}; stderr: ${stderr}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, Math.min(left, 200)); });
      wake = undefined;
    }
  }
  let id = 0;
  async function rpc(cmd: Record<string, unknown>, timeoutMs = 60_000): Promise<Ev> {
    const rid = `b${++id}`;
    const from = events.length;
    child.stdin.write(`${JSON.stringify({ ...cmd, id: rid })}\n`);
    return waitFor((e) => e.type === "response" && e.id === rid, from, timeoutMs, `response to ${cmd.type}`);
  }
  async function waitIdle(): Promise<void> {
    const end = Date.now() + 60_000;
    for (;;) {
      const st = (await rpc({ type: "get_state" })).data;
      if (!st.isStreaming && !st.pendingMessageCount) return;
      if (Date.now() > end) throw new Error(`benchDelivery: pi not idle: ${JSON.stringify(st)}`);
      await sleep(20);
    }
  }

  const samples: number[] = [];
  try {
    await rpc({ type: "get_state" }, 120_000);
    // The extension delivers nothing before the first run (the initial prompt): start one.
    const warm = events.length;
    await rpc({ type: "prompt", message: "warm up" });
    await waitFor((e) => e.type === "agent_end", warm, 60_000, "warm-up run");
    await waitIdle();
    const startsBefore = events.filter((e) => e.type === "agent_start").length;

    const texts: string[] = [];
    for (let i = 0; i < opts.messages; i++) {
      const content = `BENCH-${i} ${nonce}\nsecond line of message ${i}: ${"x".repeat(i % 7)}`;
      texts.push(content);
      const from = events.length;
      const t0 = now();
      await sendMessage(lead, team, { recipient: agent, summary: `bench ${i}`, content });
      const start = await waitFor((e) => e.type === "agent_start", from, 30_000, `agent_start for message ${i}`);
      samples.push(start.at - t0);
      await waitFor((e) => e.type === "agent_end", from, 30_000, `agent_end for message ${i}`);
      await waitIdle();
      await sleep(opts.gapMs ?? 100);
    }
    await sleep(300);

    // Correctness: one run per message, each text seen once in full by the model, nothing unread.
    const runs = events.filter((e) => e.type === "agent_start").length - startsBefore;
    const log = fs.readFileSync(`${scriptFile}.log.jsonl`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { lastText: string });
    const problems: string[] = [];
    if (runs !== opts.messages) problems.push(`${runs} runs for ${opts.messages} messages`);
    texts.forEach((t, i) => {
      const seen = log.filter((c) => c.lastText.includes(t)).length;
      if (seen !== 1) problems.push(`message ${i} seen ${seen} times`);
    });
    const unread = await unreadPeek(lead, team, agent);
    if (unread.length) problems.push(`${unread.length} message(s) left unread`);
    const hist = (await readHistory(lead, team, agent, { limit: 100_000 })).messages;
    for (const t of texts) {
      const copies = hist.filter((m) => m.content === t);
      if (copies.length !== 1 || !copies[0].read) problems.push(`${copies.length} stored copies (read: ${copies.map((m) => m.read).join(",")}): ${t.split("\n")[0]}`);
    }
    if (problems.length) throw new Error(`benchDelivery (${opts.version}): ${problems.slice(0, 10).join("; ")}`);
  } finally {
    child.stdin.end();
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    if (!exited) await new Promise((r) => child.once("exit", r));
    clearTimeout(t);
    if (opts.db) await lead.store.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    n: sorted.length, p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted.at(-1)!),
    min: round(sorted[0]!), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length), samples: samples.map(round),
  };
}

// `node dist/bench/delivery.js [messages] [0.73|0.55]`
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const n = Number(process.argv[2] ?? 20);
  const versions = process.argv[3] ? [process.argv[3] as "0.73" | "0.55"] : (["0.73", "0.55"] as const);
  for (const version of versions) {
    const r = await benchDelivery({ messages: n, version });
    console.log(`pi ${version}: n=${r.n} p50=${r.p50} ms p99=${r.p99} ms max=${r.max} ms (target p99 ≤ 1000 ms) ${r.p99 <= 1000 ? "ok" : "MISSED"}`);
  }
}
