/** Every CLI command, in the order the main help lists them. Add a command: a module here, one line below. */
import type { Command } from "../command.js";
import { call, demo, status, toolsCmd, watch } from "./core.js";
import { frontier, inbox, release, reserve, send, vote } from "./coord.js";
import { db } from "./db.js";
import { join } from "./join.js";
import { mcp } from "./mcp.js";
import { hook } from "./hook.js";
import { init } from "./init.js";
import { dashboard } from "./dashboard.js";
import { budget } from "./budget.js";

export const commands: Command[] = [call, toolsCmd, status, watch, dashboard, send, inbox, reserve, release, frontier, vote, budget, demo, mcp, hook, init, db, join];
