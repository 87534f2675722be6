/**
 * Scripted model provider for tests and the demo (no network, no key).
 * Test-only pi extension: a model provider `scripted/scripted-1` that needs no
 * network and no API key. It replays a JSON script named by $CLANKER_TEST_SCRIPT.
 *
 * Load it with `pi -e test/support/scripted-provider.ts --model scripted/scripted-1`.
 * Works on pi 0.55 and 0.73 (pi's jiti loader aliases `@mariozechner/pi-ai` to the
 * copy that belongs to the running pi, so the event stream class always matches).
 *
 * Script format: see `Script` below and docs/testing-with-pi.md.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createAssistantMessageEventStream } from "@mariozechner/pi-ai";
import type { AssistantMessage, Context, Model, SimpleStreamOptions } from "@mariozechner/pi-ai";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

/** One assistant reply. Exactly one of text / tool / tools / error decides its shape. */
export interface Reply {
	/** Plain text answer; ends the agent run (stopReason "stop") unless tools are also given. */
	text?: string;
	/** Call one tool (stopReason "toolUse"); `text` may accompany it. */
	tool?: string;
	args?: Record<string, unknown>;
	/** Call several tools in one assistant message. */
	tools?: Array<{ tool: string; args?: Record<string, unknown> }>;
	/** Fail this model call with this error message (stopReason "error"). */
	error?: string;
	/** Sleep before answering (aborts cleanly on Esc / abort). */
	delayMs?: number;
	/** Block until this file exists before answering (test-controlled "busy" model). */
	waitForFile?: string;
	/** What this call reports as used (default: 1 output token, no cost), as a real provider's message usage. */
	usage?: { input?: number; output?: number; cacheRead?: number; cacheWrite?: number; cost?: number };
}

/** A conditional rule. The first rule that matches (and has replies left) answers. */
export interface Rule {
	/** Regex (JS syntax) tested against the chosen message text; omitted = always matches. */
	when?: string;
	/** Regex flags, e.g. "i" or "s". */
	flags?: string;
	/**
	 * Which text `when` looks at. "last" (default): the newest user or tool-result
	 * message; "user": the newest user message (incl. extension messages, which reach
	 * the model as user messages); "toolResult": newest tool result; "system": the
	 * system prompt; "any": all user + tool-result texts joined by newlines.
	 */
	on?: "last" | "user" | "toolResult" | "system" | "any";
	/** Only match when the newest message is the result of this tool. */
	afterTool?: string;
	/** How many times this rule may fire (default: unlimited; array replies: once through). */
	times?: number;
	/**
	 * A reply, or a sequence: an array is played one element per model call, starting
	 * when the rule matches and continuing on the following calls no matter what they
	 * see (e.g. [call A, call B, say done]). Captures from the match stay available.
	 */
	reply: Reply | Reply[];
}

export interface Script extends ScriptBody {
	/**
	 * Per-agent scripts for multi-process tests: the section named by
	 * $CLANKER_AGENT_NAME (unset: "team-lead"), else "*". Each agent keeps its own
	 * state file, so one script file can drive a lead and its teammates.
	 */
	agents?: Record<string, ScriptBody>;
}

export interface ScriptBody {
	/** Conditional rules, tried in order before `steps`. */
	rules?: Rule[];
	/** Unconditional replies consumed one per model call once no rule matches. */
	steps?: Reply[];
	/** Used when nothing else applies. Default `{ "text": "done" }`. */
	default?: Reply;
	/** Safety net against rule loops: calls beyond this fail with an error. Default 200. */
	maxCalls?: number;
}

/** Persisted between calls (and across /reload) in the state file. */
interface ScriptState {
	calls: number;
	stepIndex: number;
	ruleFired: number[];
	/** Active sequence started by an array-reply rule. */
	seq?: { rule: number; next: number; captures: Captures };
}

type Captures = { groups: string[]; named: Record<string, string> };

const PROVIDER = "scripted";
const MODEL_ID = "scripted-1";

export function scriptPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
	return env.CLANKER_TEST_SCRIPT || undefined;
}

/** Name used to pick a section of `agents`: $CLANKER_AGENT_NAME, else "team-lead". */
export function agentKey(env: NodeJS.ProcessEnv = process.env): string {
	return env.CLANKER_AGENT_NAME?.trim() || "team-lead";
}

/**
 * State file: $CLANKER_TEST_SCRIPT_STATE, else `<script>.state.json`, or
 * `<script>.<agent>.state.json` when the script has an `agents` map.
 */
export function statePath(script: string, env: NodeJS.ProcessEnv = process.env, perAgent = false): string {
	if (env.CLANKER_TEST_SCRIPT_STATE) return env.CLANKER_TEST_SCRIPT_STATE;
	return perAgent ? `${script}.${agentKey(env).replace(/[^\w.-]/g, "_")}.state.json` : `${script}.state.json`;
}

/** The part of the script that applies to this process. */
export function selectBody(script: Script, env: NodeJS.ProcessEnv = process.env): ScriptBody {
	if (!script.agents) return script;
	const body = script.agents[agentKey(env)] ?? script.agents["*"];
	if (!body) throw new Error(`script: no section for agent "${agentKey(env)}" and no "*"`);
	return body;
}

/** Call log (JSON lines): $CLANKER_TEST_SCRIPT_LOG, else `<script>.log.jsonl`. */
export function logPath(script: string, env: NodeJS.ProcessEnv = process.env): string {
	return env.CLANKER_TEST_SCRIPT_LOG || `${script}.log.jsonl`;
}

function readState(path: string): ScriptState {
	try {
		return JSON.parse(readFileSync(path, "utf8")) as ScriptState;
	} catch {
		return { calls: 0, stepIndex: 0, ruleFired: [] };
	}
}

function writeState(path: string, state: ScriptState): void {
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, JSON.stringify(state));
	renameSync(tmp, path);
}

type AnyMessage = Context["messages"][number];

function messageText(m: AnyMessage): string {
	const c = (m as { content: unknown }).content;
	if (typeof c === "string") return c;
	if (!Array.isArray(c)) return "";
	return c
		.map((part: { type?: string; text?: string; name?: string; arguments?: unknown }) => {
			if (part.type === "text") return part.text ?? "";
			if (part.type === "toolCall") return `[toolCall ${part.name} ${JSON.stringify(part.arguments)}]`;
			return "";
		})
		.join("");
}

/** What the rules can look at, extracted from the model context. */
export interface View {
	lastRole: string;
	lastText: string;
	lastToolName?: string;
	userText: string;
	toolResultText: string;
	systemPrompt: string;
	anyText: string;
}

export function viewOf(context: Context): View {
	const msgs = context.messages.filter((m) => m.role === "user" || m.role === "toolResult");
	const last = msgs[msgs.length - 1];
	const lastUser = [...msgs].reverse().find((m) => m.role === "user");
	const lastTool = [...msgs].reverse().find((m) => m.role === "toolResult");
	return {
		lastRole: last?.role ?? "",
		lastText: last ? messageText(last) : "",
		lastToolName: last?.role === "toolResult" ? (last as { toolName: string }).toolName : undefined,
		userText: lastUser ? messageText(lastUser) : "",
		toolResultText: lastTool ? messageText(lastTool) : "",
		systemPrompt: context.systemPrompt ?? "",
		anyText: msgs.map(messageText).join("\n"),
	};
}

function textFor(rule: Rule, v: View): string {
	switch (rule.on ?? "last") {
		case "user":
			return v.userText;
		case "toolResult":
			return v.toolResultText;
		case "system":
			return v.systemPrompt;
		case "any":
			return v.anyText;
		default:
			return v.lastText;
	}
}

function match(rule: Rule, v: View): Captures | undefined {
	if (rule.afterTool !== undefined && (v.lastRole !== "toolResult" || v.lastToolName !== rule.afterTool)) return undefined;
	if (rule.when === undefined) return { groups: [], named: {} };
	const m = new RegExp(rule.when, rule.flags).exec(textFor(rule, v));
	if (!m) return undefined;
	const named = Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, g]) => [k, g ?? ""]));
	return { groups: [...m].map((g) => g ?? ""), named };
}

/**
 * Replace `${1}`, `${name}` (named capture, else env var), `${env.NAME}` in every string.
 * A string that is exactly one placeholder with `:number` / `:json` suffix is converted,
 * e.g. `"${1:number}"` → 42.
 */
export function render(value: unknown, caps: Captures, env: NodeJS.ProcessEnv): unknown {
	const lookup = (key: string): string => {
		if (/^\d+$/.test(key)) {
			const g = caps.groups[Number(key)];
			if (g === undefined) throw new Error(`script: no capture group ${key}`);
			return g;
		}
		if (key.startsWith("env.")) key = key.slice(4);
		else if (key in caps.named) return caps.named[key];
		const e = env[key];
		if (e === undefined) throw new Error(`script: unresolved placeholder \${${key}}`);
		return e;
	};
	if (typeof value === "string") {
		const whole = /^\$\{([\w.]+):(number|json)\}$/.exec(value);
		if (whole) {
			const raw = lookup(whole[1]);
			return whole[2] === "number" ? Number(raw) : JSON.parse(raw);
		}
		return value.replace(/\$\{([\w.]+)\}/g, (_, key: string) => lookup(key));
	}
	if (Array.isArray(value)) return value.map((v) => render(v, caps, env));
	if (value && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, caps, env)]));
	}
	return value;
}

/** Pure decision: which reply answers this call, and the next state. */
export function decide(script: ScriptBody, state: ScriptState, v: View): { reply: Reply; caps: Captures; source: string } {
	const none: Captures = { groups: [], named: {} };
	const rules = script.rules ?? [];
	// 1. continue an active sequence
	if (state.seq) {
		const { rule, next, captures } = state.seq;
		const seq = rules[rule]?.reply;
		if (Array.isArray(seq) && next < seq.length) {
			state.seq = next + 1 < seq.length ? { rule, next: next + 1, captures } : undefined;
			return { reply: seq[next], caps: captures, source: `rule ${rule} step ${next}` };
		}
		state.seq = undefined;
	}
	// 2. first matching rule with replies left
	for (let i = 0; i < rules.length; i++) {
		const rule = rules[i];
		const fired = state.ruleFired[i] ?? 0;
		const limit = rule.times ?? (Array.isArray(rule.reply) ? 1 : Infinity);
		if (fired >= limit) continue;
		const caps = match(rule, v);
		if (!caps) continue;
		if (Array.isArray(rule.reply) && rule.reply.length === 0) continue;
		state.ruleFired[i] = fired + 1;
		if (Array.isArray(rule.reply)) {
			if (rule.reply.length > 1) state.seq = { rule: i, next: 1, captures: caps };
			return { reply: rule.reply[0], caps, source: `rule ${i} step 0` };
		}
		return { reply: rule.reply, caps, source: `rule ${i}` };
	}
	// 3. unconditional steps
	const steps = script.steps ?? [];
	if (state.stepIndex < steps.length) {
		const i = state.stepIndex++;
		return { reply: steps[i], caps: none, source: `step ${i}` };
	}
	return { reply: script.default ?? { text: "done" }, caps: none, source: "default" };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(new Error("aborted"));
		const t = setTimeout(() => {
			signal?.removeEventListener("abort", onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(t);
			reject(new Error("aborted"));
		};
		signal?.addEventListener("abort", onAbort, { once: true });
	});
}

let callSeq = 0;

function streamScripted(model: Model<any>, context: Context, options?: SimpleStreamOptions) {
	const stream = createAssistantMessageEventStream();
	const output: AssistantMessage = {
		role: "assistant",
		content: [],
		api: model.api,
		provider: model.provider,
		model: model.id,
		usage: {
			input: 0,
			output: 0,
			cacheRead: 0,
			cacheWrite: 0,
			totalTokens: 0,
			cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
		},
		stopReason: "stop",
		timestamp: Date.now(),
	};

	(async () => {
		const file = scriptPath();
		let logFile: string | undefined;
		let logEntry: Record<string, unknown> = {};
		try {
			if (!file) throw new Error("CLANKER_TEST_SCRIPT is not set");
			logFile = logPath(file);
			const whole = JSON.parse(readFileSync(file, "utf8")) as Script;
			const script = selectBody(whole);
			const sPath = statePath(file, process.env, whole.agents !== undefined);
			const state = readState(sPath);
			const v = viewOf(context);
			if (state.calls >= (script.maxCalls ?? 200)) {
				throw new Error(`script: maxCalls (${script.maxCalls ?? 200}) exceeded, probably a rule loop`);
			}
			const { reply, caps, source } = decide(script, state, v);
			state.calls++;
			writeState(sPath, state);
			logEntry = {
				pid: process.pid,
				agent: agentKey(),
				call: state.calls,
				source,
				lastRole: v.lastRole,
				lastText: v.lastText,
				lastToolName: v.lastToolName,
				systemPrompt: v.systemPrompt,
				tools: (context.tools ?? []).map((t) => t.name),
			};

			stream.push({ type: "start", partial: output });
			if (reply.waitForFile) {
				while (!existsSync(reply.waitForFile)) await sleep(50, options?.signal);
			}
			if (reply.delayMs) await sleep(reply.delayMs, options?.signal);
			if (reply.error !== undefined) throw new Error(String(render(reply.error, caps, process.env)));

			const text = reply.text !== undefined ? String(render(reply.text, caps, process.env)) : undefined;
			const calls = [
				...(reply.tool ? [{ tool: reply.tool, args: reply.args }] : []),
				...(reply.tools ?? []),
			].map((c) => ({
				name: String(render(c.tool, caps, process.env)),
				arguments: (render(c.args ?? {}, caps, process.env) ?? {}) as Record<string, any>,
			}));
			logEntry.reply = { text, calls };

			if (text !== undefined) {
				const idx = output.content.push({ type: "text", text: "" }) - 1;
				stream.push({ type: "text_start", contentIndex: idx, partial: output });
				(output.content[idx] as { text: string }).text = text;
				stream.push({ type: "text_delta", contentIndex: idx, delta: text, partial: output });
				stream.push({ type: "text_end", contentIndex: idx, content: text, partial: output });
			}
			for (const c of calls) {
				const id = `call_${process.pid}_${++callSeq}`;
				const toolCall = { type: "toolCall" as const, id, name: c.name, arguments: c.arguments };
				const idx = output.content.push({ ...toolCall, arguments: {} }) - 1;
				stream.push({ type: "toolcall_start", contentIndex: idx, partial: output });
				const json = JSON.stringify(c.arguments);
				output.content[idx] = toolCall;
				stream.push({ type: "toolcall_delta", contentIndex: idx, delta: json, partial: output });
				stream.push({ type: "toolcall_end", contentIndex: idx, toolCall, partial: output });
			}
			output.stopReason = calls.length > 0 ? "toolUse" : "stop";
			const u = reply.usage ?? { output: 1 };
			output.usage = {
				input: u.input ?? 0, output: u.output ?? 0, cacheRead: u.cacheRead ?? 0, cacheWrite: u.cacheWrite ?? 0,
				totalTokens: (u.input ?? 0) + (u.output ?? 0) + (u.cacheRead ?? 0) + (u.cacheWrite ?? 0),
				cost: { input: 0, output: u.cost ?? 0, cacheRead: 0, cacheWrite: 0, total: u.cost ?? 0 },
			};
			stream.push({ type: "done", reason: output.stopReason as "stop" | "toolUse", message: output });
		} catch (error) {
			output.stopReason = options?.signal?.aborted ? "aborted" : "error";
			output.errorMessage = error instanceof Error ? error.message : String(error);
			logEntry.error = output.errorMessage;
			stream.push({ type: "error", reason: output.stopReason, error: output });
		} finally {
			if (logFile) {
				try {
					appendFileSync(logFile, `${JSON.stringify(logEntry)}\n`);
				} catch {
					// logging must never break the model
				}
			}
			stream.end();
		}
	})();

	return stream;
}

export default function scriptedProvider(pi: ExtensionAPI) {
	pi.registerProvider(PROVIDER, {
		name: "Scripted (tests)",
		baseUrl: "http://scripted.invalid",
		apiKey: "scripted-no-key",
		api: "scripted-api" as any,
		models: [
			{
				id: MODEL_ID,
				name: "Scripted model for tests",
				reasoning: false,
				input: ["text"],
				cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
				contextWindow: 200000,
				maxTokens: 8192,
			},
		],
		streamSimple: streamScripted as any,
	});
}
