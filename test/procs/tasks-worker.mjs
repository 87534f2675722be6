/**
 * Child process for test/tasks-perf.proc.test.ts: drives the task API of
 * dist/ against $CLANKER_TEAMS_DIR and prints one line per acknowledged change.
 *
 *   tasks-worker.mjs mix   <team> <as> <n>        n creates, then per task a claim-ish update and one follow-up
 *   tasks-worker.mjs touch <team> <as> <ids> <n>  n updates of active_form/owner on the comma-separated ids
 *   tasks-worker.mjs edges <team> <as> <max> <n>  n dependency edits among tasks 1..max
 *   tasks-worker.mjs chaos <team> <as> <tag>       creates, own-task updates, edge edits, claims, lists, forever
 *
 * With --wait it prints "ready" and starts on the first line of stdin.
 */
import { argv, ctxAs, dist, say, started } from "./common.mjs";

const tasks = await import(new URL("tasks.js", dist));

const [mode, team, as, ...rest] = argv;
const ctx = ctxAs(as);
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const expected = (e, codes) => { if (!codes.includes(e?.code)) throw e; };

await started();

switch (mode) {
  case "mix": {
    const n = Number(rest[0]);
    const ids = [];
    for (let j = 0; j < n; j++) {
      const t = await tasks.createTask(ctx, team, { subject: `${as} task ${j}`, description: `original ${as}/${j}` });
      ids.push(t.id);
      say(`c ${t.id} ${as} task ${j}`);
    }
    const follow = async (j) => {
      const id = ids[j];
      if (j % 10 < 5) { await tasks.updateTask(ctx, team, id, { active_form: `${as} step ${j}` }); say(`u ${id} activeForm ${as} step ${j}`); }
      else if (j % 10 < 8) { await tasks.updateTask(ctx, team, id, { description: `edited ${as}/${j}` }); say(`u ${id} description edited ${as}/${j}`); }
      else { await tasks.updateTask(ctx, team, id, { status: "completed" }); say(`u ${id} status completed`); }
    };
    for (let j = 0; j < n; j++) {
      await tasks.updateTask(ctx, team, ids[j], { owner: as, status: "in_progress" });
      say(`u ${ids[j]} claim ${as}`);
      if (j > 0) await follow(j - 1);
    }
    if (n) await follow(n - 1);
    break;
  }
  case "touch": {
    const ids = rest[0].split(",");
    for (let i = 0; i < Number(rest[1]); i++) {
      const id = pick(ids);
      const input = i % 2 ? { active_form: `${as}.${i}` } : { active_form: `${as}.${i}`, owner: i % 4 ? as : "" };
      await tasks.updateTask(ctx, team, id, input);
      say(`u ${id} ${as}.${i}`);
    }
    break;
  }
  case "edges": {
    const max = Number(rest[0]);
    for (let i = 0; i < Number(rest[1]); i++) {
      const a = String(1 + Math.floor(Math.random() * max));
      const b = String(1 + Math.floor(Math.random() * max));
      try {
        await tasks.updateTask(ctx, team, a, i % 3 ? { add_blocked_by: [b] } : { remove_blocked_by: [b] });
        say(`e ${a} ${b}`);
      } catch (e) { expected(e, ["CONFLICT", "INVALID_INPUT"]); }
    }
    break;
  }
  case "chaos": {
    const tag = rest[0];
    for (let i = 0; ; i++) {
      const r = i % 5;
      if (r === 0) {
        const t = await tasks.createTask(ctx, team, { subject: `${as}:${tag}.${i}`, description: "chaos" });
        say(`c ${t.id} ${t.subject}`);
      } else if (r === 1 || r === 3) {
        const mine = tasks.listTasks(ctx, team).filter((s) => s.subject.startsWith(`${as}:`));
        if (!mine.length) continue;
        const s = pick(mine);
        const input = { active_form: `${tag}.${i}` };
        if (r === 3) input.owner = s.owner ? "" : as;
        await tasks.updateTask(ctx, team, s.id, input);
        say(`u ${s.id} ${tag}.${i}`);
      } else if (r === 2) {
        const all = tasks.listTasks(ctx, team);
        if (all.length < 2) continue;
        const a = pick(all).id, b = pick(all).id;
        try {
          await tasks.updateTask(ctx, team, a, i % 2 ? { add_blocked_by: [b] } : { remove_blocked_by: [b] });
        } catch (e) { expected(e, ["CONFLICT", "INVALID_INPUT", "FORBIDDEN"]); }
      } else {
        tasks.listTasks(ctx, team, { include_deleted: true });
      }
    }
  }
}
