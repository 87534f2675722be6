/** `clanker-teams hook claude|gemini stop|prompt`: push mail through a host's hooks (see hosts/mcp/push-hooks.ts). */
import { validateName } from "../../../names.js";
import type { Command } from "../command.js";

export const hook: Command = {
  name: "hook",
  synopsis: "hook <claude|gemini> <stop|prompt>        deliver mail from an agent's hook",
  help: `Usage: clanker-teams hook <claude|gemini> <stop|prompt> [--team T] [--as NAME]

Run by an agent's own hooks (spawn_teammate configures them; docs/hosts.md shows
how to add them by hand). Identity: --team/--as, else CLANKER_TEAM_NAME /
CLANKER_AGENT_NAME; without a team it does nothing. The hook's JSON on stdin is
not needed.

  claude stop    (Stop hook) unread mail: printed on stderr, exit 2, so Claude
                 Code reads it and goes on instead of ending its turn
  claude prompt  (UserPromptSubmit hook) unread mail printed as added context
  gemini stop    (AfterAgent hook) unread mail: {"decision":"block","reason":<mail>}
  gemini prompt  (BeforeAgent hook) unread mail as additionalContext

Mail handed over is marked read; shutdown requests are left to the MCP server.`,
  values: ["team"], maxArgs: 2, argsHint: "a host (claude, gemini) and an event (stop, prompt)",
  async run({ args: [host, event], flags }, ctx) {
    const { HOOK_EVENTS, HOOK_HOSTS, runPushHook } = await import("../../mcp/push-hooks.js");
    if (!HOOK_HOSTS.includes(host as never)) throw new Error(`hook: the host must be one of ${HOOK_HOSTS.join(", ")} (got ${JSON.stringify(host ?? "")})`);
    if (!HOOK_EVENTS.includes(event as never)) throw new Error(`hook: the event must be one of ${HOOK_EVENTS.join(", ")} (got ${JSON.stringify(event ?? "")})`);
    const teamRaw = typeof flags.team === "string" ? flags.team : process.env.CLANKER_TEAM_NAME?.trim();
    if (!teamRaw) return 0; // not in a team: nothing to deliver
    const team = validateName("--team", teamRaw);
    const r = await runPushHook(ctx(), team, host as "claude", event as "stop");
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code;
  },
};
