/**
 * What the scripted model does in the demo: a lead that plans two dependent
 * tasks and spawns two teammates (bob in plan mode), alice who implements and
 * is vetoed once by the completion hook, bob who plans, gets approval and adds
 * tests. Rules match the messages the extension delivers into each agent's
 * conversation, so the flow is driven by real mail, real tasks, real hooks.
 */
export const TEAM = "demo";

export const LEAD_PROMPT = "Create a team of two to implement add() in calc.js and test it: alice implements, bob (plan mode) adds tests once add() is done.";

export function demoScript(): unknown {
  const team_name = TEAM;
  return {
    agents: {
      "team-lead": {
        rules: [
          { when: "^Create a team", on: "user", reply: [
            { tool: "team_create", args: { team_name, description: "Implement and test add() in calc.js" } },
            { tool: "task_create", args: { team_name, subject: "Implement add(a, b) in calc.js", description: "calc.js exports add(); make `node --test` pass." } },
            { tool: "task_create", args: { team_name, subject: "Add edge-case tests for add()", description: "Add test/add-edge.test.js: negatives, zero, floats.", blocked_by: ["1"] } },
            { tool: "spawn_teammate", args: { team_name, name: "bob", cwd: ".", plan_mode_required: true, prompt: "You write tests. Wait for your task to be unblocked, submit a plan, and add the tests once it is approved." } },
            { tool: "task_update", args: { team_name, task_id: "2", owner: "bob" } },
            { tool: "spawn_teammate", args: { team_name, name: "alice", cwd: ".", prompt: "You implement. Claim the next free task with task_claim, do it, complete it, and report to team-lead." } },
            { text: "Team is running: alice implements #1, bob tests #2 after it (plan mode)." },
          ] },
          { when: "Plan for task #(\\d+) needs review", on: "user", reply: [
            { tool: "task_evaluate_plan", args: { team_name, task_id: "${1}", action: "approve" } },
            { text: "Approved bob's plan." },
          ] },
          { when: "#2 done", on: "user", reply: [
            { tool: "task_list", args: { team_name } },
            { tool: "process_shutdown_approved", args: { team_name, agent_name: "bob" } },
            { tool: "process_shutdown_approved", args: { team_name, agent_name: "alice" } },
            { text: "All tasks done; the team is shut down." },
          ] },
        ],
        default: { text: "Noted." },
      },
      alice: {
        rules: [
          { when: "You are alice", on: "user", reply: [
            { tool: "task_claim", args: { team_name } },
            { tool: "task_update", args: { team_name, task_id: "1", active_form: "Implementing add()" } },
            { tool: "write", args: { path: "calc.js", content: "export function add(a, b) {\n  return a - b; // first try\n}\n\nexport function sub(a, b) {\n  return a - b;\n}\n" } },
            { tool: "task_update", args: { team_name, task_id: "1", status: "completed" } },
            { tool: "write", args: { path: "calc.js", content: "export function add(a, b) {\n  return a + b;\n}\n\nexport function sub(a, b) {\n  return a - b;\n}\n" } },
            { tool: "task_update", args: { team_name, task_id: "1", status: "completed" } },
            { tool: "send_message", args: { team_name, recipient: "team-lead", summary: "#1 done: add() implemented", content: "add() is implemented; the completion hook vetoed my first try (a - b) and passed the fix." } },
            { text: "Task #1 is done." },
          ] },
        ],
        default: { text: "OK." },
      },
      bob: {
        rules: [
          { when: "Task #2 is unblocked", on: "user", reply: [
            { tool: "write", args: { path: "test/add-edge.test.js", content: "too early\n" } },
            { tool: "task_submit_plan", args: { team_name, task_id: "2", plan: "1. test/add-edge.test.js: add(-2, -3) = -5\n2. add(0, 0) = 0\n3. add(0.1, 0.2) close to 0.3\n4. run node --test" } },
            { text: "Plan submitted; waiting for approval." },
          ] },
          { when: "Plan for task #2 approved", on: "user", reply: [
            { tool: "write", args: { path: "test/add-edge.test.js", content: "import test from \"node:test\";\nimport assert from \"node:assert/strict\";\nimport { add } from \"../calc.js\";\n\ntest(\"negatives\", () => assert.equal(add(-2, -3), -5));\ntest(\"zero\", () => assert.equal(add(0, 0), 0));\ntest(\"floats\", () => assert.ok(Math.abs(add(0.1, 0.2) - 0.3) < 1e-9));\n" } },
            { tool: "task_update", args: { team_name, task_id: "2", status: "completed" } },
            { tool: "send_message", args: { team_name, recipient: "team-lead", summary: "#2 done: edge-case tests added", content: "test/add-edge.test.js covers negatives, zero and floats; node --test passes." } },
            { text: "Task #2 is done." },
          ] },
        ],
        default: { text: "Waiting for my task." },
      },
    },
    maxCalls: 100,
  };
}

/** Files of the throwaway repo the team works in. */
export const REPO_FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "toy-calc", type: "module", private: true, scripts: { test: "node --test" } }, null, 2) + "\n",
  "calc.js": "export function add(a, b) {\n  throw new Error(\"not implemented\");\n}\n\nexport function sub(a, b) {\n  return a - b;\n}\n",
  "test/add.test.js": "import test from \"node:test\";\nimport assert from \"node:assert/strict\";\nimport { add, sub } from \"../calc.js\";\n\ntest(\"add\", () => assert.equal(add(2, 3), 5));\ntest(\"sub\", () => assert.equal(sub(5, 3), 2));\n",
  ".clanker/team-hooks/task_completed.sh": "#!/bin/sh\n# Runs the toy repo's tests when a task is completed; exit 2 vetoes completion.\necho \"hook: task $CLANKER_TASK_ID completed by $CLANKER_AGENT; running node --test\"\nout=$(node --test 2>&1); code=$?\nprintf '%s\\n' \"$out\" | grep -E '^# (pass|fail)|not ok' | head -n 10\nif [ \"$code\" -ne 0 ]; then echo \"tests fail: completion vetoed\"; exit 2; fi\necho \"tests pass\"\n",
};
