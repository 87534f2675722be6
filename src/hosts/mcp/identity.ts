/** Who an MCP server speaks for: --team/--as, else CLANKER_TEAM_NAME/CLANKER_AGENT_NAME; no name means the lead. */
import { invalid } from "../../errors.js";
import { LEAD_NAME, validateName } from "../../names.js";
import type { Role } from "../../tools/define.js";

export interface Identity {
  /** The team (a teammate always has one; a lead may name one to start with). */
  team?: string;
  actor: string;
  role: Role;
}

/** Resolves the identity from flags, then the environment. A teammate needs a team. */
export function resolveIdentity(flags: { team?: string; as?: string }, env: NodeJS.ProcessEnv): Identity {
  const teamRaw = flags.team ?? (env.CLANKER_TEAM_NAME?.trim() || undefined);
  const nameRaw = flags.as ?? (env.CLANKER_AGENT_NAME?.trim() || undefined);
  const team = teamRaw !== undefined ? validateName(flags.team !== undefined ? "--team" : "CLANKER_TEAM_NAME", teamRaw) : undefined;
  const name = nameRaw !== undefined ? validateName(flags.as !== undefined ? "--as" : "CLANKER_AGENT_NAME", nameRaw) : LEAD_NAME;
  if (name === LEAD_NAME) return { team, actor: LEAD_NAME, role: "lead" };
  if (!team) throw invalid("--team", `teammate "${name}" needs its team: pass --team TEAM or set CLANKER_TEAM_NAME (no --as means the lead)`);
  return { team, actor: name, role: "teammate" };
}
