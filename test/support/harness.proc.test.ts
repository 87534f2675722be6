/**
 * Real-process tests (slow: each starts pi): the scripted provider and the harness
 * work on pi 0.73 and 0.55, and the extension-API behaviours documented in
 * docs/testing-with-pi.md still hold. Probe extension: test/support/probe-extension.ts.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
	PI_VERSIONS,
	hermeticEnv,
	killTmuxServer,
	makeTmp,
	readScriptLog,
	rmTmp,
	runPiPrint,
	startPiInTmux,
	startPiRpc,
	uniqueSocket,
	writeAgentSettings,
	writeScript,
	type Script,
} from "./pi-harness.js";
import { decide, render, type View } from "./scripted-provider.js";

const PROBE = fileURLToPath(new URL("./probe-extension.ts", import.meta.url));
const tmps: string[] = [];
afterAll(() => tmps.forEach(rmTmp));

/** Temp dir + script + env for one pi process. */
function setup(script: Script, extra: Record<string, string> = {}) {
	const tmp = makeTmp();
	tmps.push(tmp);
	const scriptFile = join(tmp, "script.json");
	writeScript(scriptFile, script);
	const probeLog = join(tmp, "probe.jsonl");
	const env = hermeticEnv(tmp, { CLANKER_TEST_SCRIPT: scriptFile, PROBE_LOG: probeLog, PROBE_DIR: tmp, ...extra });
	const probe = () =>
		existsSync(probeLog)
			? readFileSync(probeLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>)
			: [];
	return { tmp, scriptFile, env, probe, calls: () => readScriptLog(scriptFile) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") {
	const end = Date.now() + timeoutMs;
	while (!(await cond())) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(50);
	}
}

describe("scripted provider decisions (pure)", () => {
	const view = (lastText: string, extra: Partial<View> = {}): View => ({
		lastRole: "user", lastText, userText: lastText, toolResultText: "", systemPrompt: "", anyText: lastText, ...extra,
	});
	const fresh = () => ({ calls: 0, stepIndex: 0, ruleFired: [] as number[] });

	it("plays a rule's array reply as a sequence, keeping captures", () => {
		const script: Script = { rules: [{ when: "task #(\\d+)", reply: [{ tool: "a" }, { tool: "b" }, { text: "t${1}" }] }] };
		const st = fresh();
		expect(decide(script, st, view("task #7")).reply).toEqual({ tool: "a" });
		expect(decide(script, st, view("tool output", { lastRole: "toolResult" })).reply).toEqual({ tool: "b" });
		const last = decide(script, st, view("x"));
		expect(render(last.reply.text, last.caps, {})).toBe("t7");
		expect(decide(script, st, view("task #8")).source).toBe("default"); // array rules fire once unless `times`
	});

	it("falls back to steps, then default; renders env, named groups and :number", () => {
		const script: Script = { steps: [{ text: "s0" }], rules: [{ when: "^never$", reply: { text: "r" } }] };
		const st = fresh();
		expect(decide(script, st, view("hi")).reply).toEqual({ text: "s0" });
		expect(decide(script, st, view("hi")).reply).toEqual({ text: "done" });
		const caps = { groups: ["x", "42"], named: { who: "bob" } };
		expect(render({ a: "${1:number}", b: ["${who}-${AGENT}", "${env.AGENT}"] }, caps, { AGENT: "al" })).toEqual({
			a: 42,
			b: ["bob-al", "al"],
		});
		expect(() => render("${MISSING}", caps, {})).toThrow(/unresolved/);
	});
});

for (const version of PI_VERSIONS) {
	describe.concurrent(`real pi ${version}`, { timeout: 120_000 }, () => {
		it("print mode prints the scripted text (no network, no key)", async () => {
			const s = setup({ steps: [{ text: "hello from the script" }] });
			const r = await runPiPrint({ version, cwd: s.tmp, env: s.env, prompts: ["hello"] });
			expect(r.stdout.trim()).toBe("hello from the script");
			expect(r.exitCode).toBe(0);
		});

		it("settings.json loads the provider for flag-less pi (spawned teammates); `agents` picks the section", async () => {
			const s = setup({ agents: { "team-lead": { default: { text: "lead" } }, "*": { default: { text: "mate ${CLANKER_AGENT_NAME}" } } } });
			writeAgentSettings(s.tmp);
			const r = await runPiPrint({ version, cwd: s.tmp, env: { ...s.env, CLANKER_AGENT_NAME: "bob" }, prompts: ["hi"], viaSettings: true });
			expect(r.stdout.trim()).toBe("mate bob");
			expect(s.calls()[0].agent).toBe("bob");
		});

		it("rpc: tools, templating, sequences, tool_call blocking, ui, message delivery", async () => {
			const s = setup(
				{
					rules: [
						// teammate-like sequence: captures the task id, 2 tool calls, then text
						{ when: "^task #(\\d+)", reply: [
							{ tool: "probe_echo", args: { text: "claim ${1} as ${CLANKER_AGENT_NAME}" } },
							{ tool: "probe_echo", args: { text: "complete ${1}", n: "${1:number}" } },
							{ text: "task ${1} done" },
						] },
						{ afterTool: "probe_blocked", reply: { text: "after block" } },
						{ when: "^block", reply: { tool: "probe_blocked" } },
						{ afterTool: "probe_ui", reply: { text: "ui done" } },
						{ when: "^ui", reply: { tool: "probe_ui" } },
						{ when: "^schema", reply: { tool: "probe_echo", args: { n: 1 } } },
						{ afterTool: "probe_send", reply: { text: "send done", delayMs: 200 } },
						{ when: "^busy (\\w+)", times: 5, reply: { tool: "probe_send", args: { text: "queued via ${1}", deliverAs: "${1}" } } },
						{ when: "^queued via (\\w+)", times: 5, reply: { text: "handled ${1}" } },
					],
				},
				{ CLANKER_AGENT_NAME: "alice" },
			);
			const pi = await startPiRpc({ version, cwd: s.tmp, env: s.env, extensions: [PROBE] });
			try {
				await pi.run("task #42 for you");
				const replies = s.calls().map((c) => c.reply);
				expect(replies.map((r) => r?.calls[0]?.arguments)).toEqual([
					{ text: "claim 42 as alice" },
					{ text: "complete 42", n: 42 },
					undefined,
				]);
				expect(replies[2]?.text).toBe("task 42 done");
				// execute(toolCallId, params, signal, onUpdate, ctx) in both versions
				expect(s.probe().find((p) => p.ev === "execute")?.kinds).toEqual(["string", "object", "AbortSignal", "function", "object"]);
				// before_agent_start's systemPrompt reached the model
				expect(s.calls()[0].systemPrompt).toMatch(/PROBE-INJECT run=1/);

				// (g) tool_call {block:true, reason}: tool never runs, reason becomes an error result
				await pi.run("block it");
				expect(s.probe().some((p) => p.ev === "blocked_tool_ran")).toBe(false);
				const blocked = pi.events.find((e) => e.type === "tool_execution_end" && e.toolName === "probe_blocked");
				expect(blocked?.isError).toBe(true);
				expect(JSON.stringify(blocked?.result)).toContain("blocked by probe");

				// (e) ui calls are harmless in rpc and surface as extension_ui_request
				await pi.run("ui please");
				expect(s.probe().find((p) => p.ev === "ui")).toMatchObject({ setStatus: "ok", setWidget: "ok", notify: "ok" });
				expect(pi.events.some((e) => e.type === "extension_ui_request" && e.method === "setStatus")).toBe(true);

				// (h) a plain JSON-schema `parameters` object is validated
				await pi.run("schema check");
				const bad = pi.events.find((e) => e.type === "tool_execution_end" && e.isError && JSON.stringify(e.result).includes("Validation failed"));
				expect(bad).toBeTruthy();

				// (a) busy followUp: delivered after the run's final answer, same agent run (no new before_agent_start)
				const runsBefore = s.probe().filter((p) => p.ev === "before_agent_start").length;
				await pi.run("busy followUp");
				let texts = s.calls().map((c) => `${c.lastText}=>${c.reply?.text ?? c.reply?.calls[0]?.name}`);
				expect(texts.slice(-3)).toEqual(["busy followUp=>probe_send", "sent ok=>send done", "queued via followUp=>handled followUp"]);
				expect(s.probe().filter((p) => p.ev === "before_agent_start").length).toBe(runsBefore + 1);
				expect(s.calls().at(-1)?.systemPrompt).toMatch(new RegExp(`PROBE-INJECT run=${runsBefore + 1}\\b`));

				// (a) busy steer: delivered right after the tool result, before the next model call
				await pi.run("busy steer");
				texts = s.calls().map((c) => `${c.lastText}=>${c.reply?.text ?? c.reply?.calls[0]?.name}`);
				expect(texts.slice(-2)).toEqual(["busy steer=>probe_send", "queued via steer=>handled steer"]);

				// (a) busy without deliverAs: no throw, message dropped, extension_error event
				await pi.run("busy none");
				await sleep(300);
				expect(s.calls().some((c) => c.lastText === "queued via none")).toBe(false);
				expect(pi.events.some((e) => e.type === "extension_error" && /already processing/.test(e.error))).toBe(true);

				// (a) idle followUp (from a timer): starts a new run with before_agent_start
				writeFileSync(join(s.tmp, "send-followUp"), "queued via idle");
				await pi.waitFor((e) => e.type === "agent_end" && JSON.stringify(e.messages).includes("handled idle"));
				expect(s.probe().find((p) => p.ev === "timer_send")?.idle).toBe(true);
			} finally {
				await pi.close();
			}
		});

		it("rpc: sendUserMessage inside agent_end is stuck on 0.73 unless deferred", async () => {
			const script: Script = { rules: [{ when: "^queued via (\\w+)", reply: { text: "handled ${1}" } }] };
			const direct = setup(script, { PROBE_SEND_ON_AGENT_END: "followUp" });
			const deferred = setup(script, { PROBE_SEND_ON_AGENT_END: "followUp", PROBE_SEND_ON_AGENT_END_DEFER: "0" });
			const [a, b] = await Promise.all([
				startPiRpc({ version, cwd: direct.tmp, env: direct.env, extensions: [PROBE] }),
				startPiRpc({ version, cwd: deferred.tmp, env: deferred.env, extensions: [PROBE] }),
			]);
			try {
				await Promise.all([a.prompt("hi"), b.prompt("hi")]);
				await b.waitFor((e) => e.type === "agent_end" && JSON.stringify(e.messages).includes("handled agentendfollowUp"));
				await a.waitFor((e) => e.type === "agent_end");
				await sleep(500);
				const st = await a.waitIdle({ allowPending: true });
				const delivered = direct.calls().some((c) => c.lastText === "queued via agentendfollowUp");
				if (version === "0.73") {
					expect(delivered).toBe(false);
					expect(st.pendingMessageCount).toBe(1); // waits for the next prompt
				} else {
					expect(delivered).toBe(true);
				}
				// isIdle() inside agent_end: false on 0.73, true on 0.55
				expect(direct.probe().find((p) => p.ev === "agent_end")?.idle).toBe(version === "0.55");
			} finally {
				await Promise.all([a.close(), b.close()]);
			}
		});

		it("rpc: reload re-runs the factory, drops old handlers but not old timers; ctx.shutdown waits for a command", async () => {
			const s = setup({ default: { text: "done" } });
			const pi = await startPiRpc({ version, cwd: s.tmp, env: s.env, extensions: [PROBE] });
			try {
				await pi.prompt("/probe-reload");
				await until(() => s.probe().filter((p) => p.ev === "factory").length === 2, 30_000, "second factory");
				// The new instance's session_start follows its factory call: wait for it too (slow under load).
				await until(() => s.probe().filter((p) => p.ev === "session_start").length === 2, 30_000, "second session_start");
				const [oldInst, newInst] = s.probe().filter((p) => p.ev === "factory").map((p) => p.inst);
				const shut = s.probe().find((p) => p.ev === "session_shutdown");
				expect(shut?.inst).toBe(oldInst);
				expect(shut?.reason).toBe(version === "0.73" ? "reload" : undefined);
				expect(s.probe().filter((p) => p.ev === "session_start").map((p) => p.reason)).toEqual(
					version === "0.73" ? ["startup", "reload"] : [undefined, undefined],
				);
				const mark = s.probe().length;
				await pi.run("after reload");
				await sleep(700);
				const after = s.probe().slice(mark);
				expect(new Set(after.filter((p) => p.ev === "agent_start").map((p) => p.inst))).toEqual(new Set([newInst]));
				expect(after.some((p) => p.ev === "tick" && p.inst === oldInst)).toBe(true); // old setInterval lives on

				writeFileSync(join(s.tmp, "shutdown"), "");
				await until(() => s.probe().some((p) => p.ev === "shutdown_call"), 5000, "shutdown_call");
				await sleep(500);
				expect(pi.child.exitCode).toBe(null); // rpc: deferred until the next command is handled
				await pi.send({ type: "get_state" });
				expect(await pi.exited).toBe(0);
				expect(s.probe().some((p) => p.ev === "session_shutdown" && p.inst === newInst)).toBe(true);
			} finally {
				await pi.close();
			}
		});

		it("tmux: interactive pi runs the prompt argument, takes idle follow-ups, exits on ctx.shutdown", async () => {
			const s = setup({
				rules: [
					{ when: "^hello", reply: { text: "SCRIPTED-HELLO" } },
					{ when: "^timer (\\w+)", reply: { text: "TIMER-${1}" } },
				],
			});
			const socket = uniqueSocket("harness");
			try {
				const pane = await startPiInTmux(socket, { version, cwd: s.tmp, env: s.env, extensions: [PROBE], prompt: "hello" });
				await pane.waitForText(/SCRIPTED-HELLO/, 60_000);
				writeFileSync(join(s.tmp, "send-followUp"), "timer one");
				await pane.waitForText(/TIMER-one/);
				writeFileSync(join(s.tmp, "shutdown"), "");
				await until(async () => !(await pane.isAlive()), 5000, "pi to exit");
				expect(s.probe().some((p) => p.ev === "session_shutdown")).toBe(true);
			} finally {
				await killTmuxServer(socket);
			}
		});
	});
}
