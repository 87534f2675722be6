/** Every CLI command, in the order the main help lists them. Add a command: a module here, one line below. */
import type { Command } from "../command.js";
import { call, demo, status, toolsCmd, watch } from "./core.js";
import { dashboard } from "./dashboard.js";

export const commands: Command[] = [call, toolsCmd, status, watch, dashboard, demo];
