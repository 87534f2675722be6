/**
 * Test-only pi extension that records what pi does to an extension, so that
 * harness.test.ts can pin down extension-API behaviour on pi 0.55 and 0.73.
 * Every record is one JSON line in $PROBE_LOG: {inst, ev, idle, ...}.
 *
 * Triggers (polled every 50 ms, file is deleted when consumed):
 *   $PROBE_DIR/send-<followUp|steer|none>  → pi.sendUserMessage(<file text>, {deliverAs})
 *   $PROBE_DIR/shutdown                    → ctx.shutdown()
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

export default function probe(pi: ExtensionAPI) {
	const inst = Math.random().toString(36).slice(2, 8);
	const logFile = process.env.PROBE_LOG;
	const dir = process.env.PROBE_DIR;
	let lastCtx: any;
	let turns = 0;
	const log = (ev: string, data: Record<string, unknown> = {}) => {
		if (!logFile) return;
		let idle: boolean | string | undefined;
		try {
			idle = lastCtx?.isIdle?.();
		} catch (e) {
			idle = `throws: ${(e as Error).message}`;
		}
		appendFileSync(logFile, `${JSON.stringify({ inst, ev, idle, t: Date.now(), ...data })}\n`);
	};
	log("factory");

	const events = [
		"session_start", "session_switch", "session_shutdown", "agent_start", "agent_end",
		"turn_start", "turn_end", "input", "tool_execution_start", "tool_execution_end", "tool_result",
	];
	for (const ev of events) {
		pi.on(ev as any, async (event: any, ctx: any) => {
			lastCtx = ctx;
			log(ev, {
				reason: event?.reason,
				text: ev === "input" ? event?.text : undefined,
				source: ev === "input" ? event?.source : undefined,
				toolName: event?.toolName,
				hasShutdown: typeof ctx?.shutdown,
				hasUI: ctx?.hasUI,
			});
		});
	}

	// $PROBE_SEND_ON_AGENT_END=<followUp|steer|none>: send one user message from the first agent_end handler
	let sentOnEnd = false;
	// $PROBE_SEND_ON_AGENT_END_DEFER=<ms>: do it in a setTimeout(ms) instead
	pi.on("agent_end" as any, async () => {
		const mode = process.env.PROBE_SEND_ON_AGENT_END;
		if (!mode || sentOnEnd) return;
		sentOnEnd = true;
		const defer = process.env.PROBE_SEND_ON_AGENT_END_DEFER;
		if (defer !== undefined) await new Promise((r) => setTimeout(r, Number(defer)));
		let result = "ok";
		try {
			pi.sendUserMessage(`queued via agentend${mode}`, mode === "none" ? undefined : { deliverAs: mode as "followUp" | "steer" });
		} catch (e) {
			result = `throws: ${(e as Error).message}`;
		}
		log("agent_end_send", { mode, result });
	});

	pi.on("before_agent_start" as any, async (event: any, ctx: any) => {
		lastCtx = ctx;
		turns++;
		log("before_agent_start", { prompt: event.prompt });
		return { systemPrompt: `${event.systemPrompt}\nPROBE-INJECT run=${turns} inst=${inst}` };
	});

	pi.on("tool_call" as any, async (event: any, ctx: any) => {
		lastCtx = ctx;
		log("tool_call", { toolName: event.toolName, input: event.input });
		if (event.toolName === "probe_blocked") return { block: true, reason: "blocked by probe" };
		return undefined;
	});

	const jsonSchema = {
		type: "object",
		properties: { text: { type: "string", description: "text to echo" }, n: { type: "integer" } },
		required: ["text"],
		additionalProperties: false,
	};

	pi.registerTool({
		name: "probe_echo",
		label: "Probe echo",
		description: "Echo text back (probe)",
		parameters: jsonSchema as any,
		async execute(...args: any[]) {
			const kinds = args.map((a) => (a === null ? "null" : a instanceof AbortSignal ? "AbortSignal" : typeof a));
			const ctx = args.find((a) => a && typeof a === "object" && typeof a.isIdle === "function");
			if (ctx) lastCtx = ctx;
			log("execute", { kinds, params: args[1] });
			return { content: [{ type: "text", text: `echo: ${args[1]?.text}` }], details: { kinds } };
		},
	} as any);

	pi.registerTool({
		name: "probe_blocked",
		label: "Probe blocked",
		description: "Always blocked by the probe's tool_call handler",
		parameters: { type: "object", properties: {} } as any,
		async execute() {
			log("blocked_tool_ran");
			return { content: [{ type: "text", text: "should not run" }], details: {} };
		},
	} as any);

	pi.registerTool({
		name: "probe_ui",
		label: "Probe UI",
		description: "Calls ctx.ui.setStatus / setWidget / notify",
		parameters: { type: "object", properties: {} } as any,
		async execute(_id: string, _p: unknown, _s: unknown, _u: unknown, ctx: any) {
			const out: Record<string, string> = {};
			for (const [name, fn] of Object.entries({
				setStatus: () => ctx.ui.setStatus("probe", "probe-status"),
				setWidget: () => ctx.ui.setWidget("probe", ["probe-widget"]),
				notify: () => ctx.ui.notify("probe-notify", "info"),
			})) {
				try {
					fn();
					out[name] = "ok";
				} catch (e) {
					out[name] = `throws: ${(e as Error).message}`;
				}
			}
			log("ui", out);
			return { content: [{ type: "text", text: `ui ${JSON.stringify(out)}` }], details: out };
		},
	} as any);

	pi.registerTool({
		name: "probe_send",
		label: "Probe send",
		description: "Calls pi.sendUserMessage from inside a tool (agent busy)",
		parameters: {
			type: "object",
			properties: { text: { type: "string" }, deliverAs: { type: "string" } },
			required: ["text"],
		} as any,
		async execute(_id: string, p: any, _s: unknown, _u: unknown, ctx: any) {
			lastCtx = ctx;
			let result = "ok";
			try {
				pi.sendUserMessage(p.text, p.deliverAs && p.deliverAs !== "none" ? { deliverAs: p.deliverAs } : undefined);
			} catch (e) {
				result = `throws: ${(e as Error).message}`;
			}
			log("busy_send", { deliverAs: p.deliverAs, result });
			return { content: [{ type: "text", text: `sent ${result}` }], details: {} };
		},
	} as any);

	pi.registerCommand("probe-reload", {
		description: "ctx.reload() (probe)",
		handler: async (_args: string, ctx: any) => {
			log("reload_cmd", { hasReload: typeof ctx.reload });
			await ctx.reload();
			log("reload_cmd_after");
		},
	});

	// Timer survives /reload unless cleared: tick logs tell whether old instances live on.
	let ticks = 0;
	const timer = setInterval(() => {
		if (++ticks % 10 === 0) log("tick");
		if (!dir) return;
		for (const mode of ["followUp", "steer", "none"]) {
			const f = join(dir, `send-${mode}`);
			if (!existsSync(f)) continue;
			const text = readFileSync(f, "utf8");
			rmSync(f, { force: true });
			let result = "ok";
			try {
				pi.sendUserMessage(text, mode === "none" ? undefined : { deliverAs: mode as "followUp" | "steer" });
			} catch (e) {
				result = `throws: ${(e as Error).message}`;
			}
			log("timer_send", { mode, result });
		}
		const sd = join(dir, "shutdown");
		if (existsSync(sd)) {
			rmSync(sd, { force: true });
			log("shutdown_call", { has: typeof lastCtx?.shutdown });
			lastCtx?.shutdown?.();
		}
	}, 50);
	timer.unref?.();
	if (process.env.PROBE_CLEAR_TIMER_ON_SHUTDOWN) pi.on("session_shutdown" as any, async () => clearInterval(timer));
}
