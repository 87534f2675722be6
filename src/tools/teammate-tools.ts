/** Teammate lifecycle tools (spawn, check, stop). */
import type { ToolDef } from "./define.js";

export const teammateTools: ToolDef[] = [];
