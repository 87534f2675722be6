/** clanker-teams as a library: the domain functions every front end uses, and the store seam (see docs/api.md). */
export { makeCtx, asActor, newSession, type Ctx, type CtxOptions, type HookResult, type HookRunner } from "./context.js";
export { TeamsError, isTeamsError, type ErrorCode } from "./errors.js";
export { createTeam, readTeam, listTeams, deleteTeam, addMember, removeMember, findMember, memberNames, type CreateTeamInput } from "./domain/teams.js";
export { createTask, listTasks, getTask, updateTask, submitPlan, evaluatePlan, claimTask, releaseTask, releaseTasksOf, type CreateTaskInput, type UpdateTaskInput, type UpdateResult, type ListFilter } from "./domain/tasks.js";
export { sendMessage, broadcastMessage, readInbox, readHistory, unreadCount, unreadPeek, markRead, systemMessage, SYSTEM_SENDER, type SendInput, type ReadInboxInput, type ReadInboxResult } from "./domain/messages.js";
export { appendEvent, readEvents } from "./domain/events.js";
export { readPresence, writePresence, removePresence, liveness, livenessOf, recoverAbandoned, pidAlive, hostName, leaseMs, HEARTBEAT_DEAD_MS, type Liveness } from "./domain/presence.js";
export { runCompletionHook, runRepoHook, HOOK_RELATIVE_PATH } from "./agents/hooks.js";
export { tools, getTool, toolsFor, callTool } from "./tools/table.js";
export { jsonSchema, type ToolDef, type ToolResult } from "./tools/define.js";
export { validateName, validateTaskId, LEAD_NAME } from "./names.js";
export { openStore, dataDir, dbUrl } from "./store/open.js";
export type { TeamStore, TaskTx, Edit, Edited, DocEdit, EventInput, HistoryPage, WatchTopic, StoreOptions } from "./store/types.js";
export * from "./schemas.js";
