/**
 * A writer on the JSON store's log, for the log's multi-process tests
 * (test/store/json-log.proc.test.ts). Prints one line per acknowledged
 * operation, after the store call returned:
 *   c <id> <subject>     a task created
 *   e <id> <activeForm>  an edit acknowledged
 *   m <msgId>            a message delivered
 * Usage: json-log-worker.mjs <name> <count> [--wait]
 */
const dist = new URL("../../dist/src/", import.meta.url);
const { JsonStore } = await import(new URL("store/json/index.js", dist));

const raw = process.argv.slice(2);
const wait = raw.includes("--wait");
const [name, countRaw] = raw.filter((a) => a !== "--wait");
const count = Number(countRaw);
const say = (line) => process.stdout.write(line + "\n");
const store = new JsonStore({ dataDir: process.env.CLANKER_TEAMS_DIR });
const team = process.env.TEAM ?? "t";
const now = () => new Date().toISOString();
say("ready");
if (wait) await new Promise((r) => process.stdin.once("data", r));
process.stdin.destroy();

const mine = [];
for (let i = 0; i < count; i++) {
  const subject = `${name}-${i}`;
  const t = await store.createTask(team, (id) => ({
    task: { id, subject, description: `by ${name}`, status: "pending", blocks: [], blockedBy: [], createdAt: now(), updatedAt: now() },
    events: [{ actor: name, kind: "task.created", data: { id, subject } }],
  }));
  mine.push(t.id);
  say(`c ${t.id} ${subject}`);
  const target = mine[(i * 7) % mine.length];
  const form = `${name}-f${i}`;
  await store.editTask(team, target, (x) => { x.activeForm = form; x.owner = name; return { value: 1, write: true, events: [{ actor: name, kind: "task.updated", data: { id: x.id } }] }; });
  say(`e ${target} ${form}`);
  const msgId = `${name}-m${i}`;
  await store.deliver(team, [{ id: msgId, from: name, to: "team-lead", content: `hello ${i} `.repeat(20), summary: "hi", timestamp: now(), read: false }], [{ actor: name, kind: "message.sent", data: { id: msgId } }]);
  say(`m ${msgId}`);
}
