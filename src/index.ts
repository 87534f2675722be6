/** clanker-teams as a library: the domain functions every front end uses (see docs/api.md). */
export { makeCtx, asActor, type Ctx, type CtxOptions, type HookResult, type HookRunner } from "./context.js";
export { TeamsError, isTeamsError, type ErrorCode } from "./errors.js";
export { createTeam, readTeam, listTeams, deleteTeam, addMember, removeMember, findMember, memberNames } from "./teams.js";
export { createTask, listTasks, getTask, updateTask, submitPlan, evaluatePlan, claimTask, releaseTask, releaseTasksOf, rebuildIndex, type CreateTaskInput, type UpdateTaskInput, type UpdateResult, type ListFilter } from "./tasks.js";
export { sendMessage, broadcastMessage, readInbox, readHistory, unreadCount, unreadPeek, markRead, systemMessage, SYSTEM_SENDER, type SendInput, type ReadInboxInput, type ReadInboxResult } from "./messages.js";
export { appendEvent, readEvents } from "./events.js";
export { readPresence, writePresence, liveness, recoverAbandoned, pidAlive, HEARTBEAT_DEAD_MS } from "./presence.js";
export { runCompletionHook, HOOK_RELATIVE_PATH } from "./hooks.js";
export { tools, getTool, toolsFor, callTool } from "./tools/table.js";
export { jsonSchema, type ToolDef, type ToolResult } from "./tools/define.js";
export { Paths, dataDir, validateName, LEAD_NAME } from "./store/paths.js";
export * from "./schemas.js";
