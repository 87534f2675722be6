/**
 * Run REAL pi processes (0.73 and 0.55) hermetically: no network, no API key,
 * temp HOME / agent dir, driven by the scripted provider (scripted-provider.ts).
 * See docs/testing-with-pi.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import type { Script } from "./scripted-provider.js";

export type { Script, Reply, Rule } from "./scripted-provider.js";
export type PiVersion = "0.73" | "0.55";
export const PI_VERSIONS: PiVersion[] = ["0.73", "0.55"];

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (…/test/support → …). */
export const REPO_ROOT = resolve(here, "..", "..");
/** Absolute path of the scripted provider extension, for `-e`. */
export const SCRIPTED_PROVIDER = join(here, "scripted-provider.ts");
/** `--model` value selecting the scripted model. */
export const SCRIPTED_MODEL = "scripted/scripted-1";

/** argv prefix that runs the given pi version: [node, cli.js]. */
export function piBin(version: PiVersion): string[] {
	const pkg = version === "0.73" ? "@mariozechner/pi-coding-agent" : "pi055";
	return [process.execPath, join(REPO_ROOT, "node_modules", pkg, "dist", "cli.js")];
}

/** A fresh temp dir (caller removes it with `rmTmp`). */
export function makeTmp(prefix = "pi-harness-"): string {
	return mkdtempSync(join(tmpdir(), prefix));
}

export function rmTmp(dir: string): void {
	rmSync(dir, { recursive: true, force: true });
}

/**
 * Environment built from scratch (nothing inherited but PATH/TERM/LANG): offline,
 * HOME and PI_CODING_AGENT_DIR inside `tmpDir`, no API keys, CLANKER_TEAMS_DIR in tmpDir.
 */
export function hermeticEnv(tmpDir: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
	const home = join(tmpDir, "home");
	const agentDir = join(tmpDir, "agent");
	mkdirSync(home, { recursive: true });
	mkdirSync(agentDir, { recursive: true });
	const env: Record<string, string | undefined> = {
		PATH: process.env.PATH,
		LANG: process.env.LANG ?? "C.UTF-8",
		TERM: "xterm-256color",
		HOME: home,
		PI_CODING_AGENT_DIR: agentDir,
		PI_CODING_AGENT_SESSION_DIR: join(agentDir, "sessions"),
		PI_OFFLINE: "1",
		PI_TELEMETRY: "0",
		PI_SKIP_VERSION_CHECK: "1",
		CLANKER_TEAMS_DIR: join(tmpDir, "clanker"),
		TMPDIR: process.env.TMPDIR,
		...extra,
	};
	return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface PiOptions {
	version: PiVersion;
	/** Working directory for pi (use a temp dir: AGENTS.md discovery walks up from it). */
	cwd: string;
	/** Full env, usually from hermeticEnv(); must contain CLANKER_TEST_SCRIPT. */
	env: Record<string, string>;
	/** Extra extensions loaded after the scripted provider. */
	extensions?: string[];
	/** Extra CLI args (e.g. ["--no-tools"]). */
	args?: string[];
	/**
	 * Rely on writeAgentSettings() instead of -e/--model flags: pi runs as a spawned
	 * teammate would (extensions from settings.json; --no-extensions would disable them).
	 */
	viaSettings?: boolean;
}

/** Flags that keep pi hermetic: no session files, no discovered extensions/skills/templates/themes. */
export function hermeticArgs(version: PiVersion, extensions: string[] = []): string[] {
	const args = ["--no-session", "--no-extensions", "--no-skills", "--no-prompt-templates", "--no-themes"];
	if (version === "0.73") args.push("--no-context-files"); // flag does not exist in 0.55
	for (const e of [SCRIPTED_PROVIDER, ...extensions]) args.push("-e", e);
	args.push("--model", SCRIPTED_MODEL);
	return args;
}

function fullArgv(o: PiOptions, tail: string[]): string[] {
	const base = o.viaSettings
		? ["--no-session", "--no-skills", "--no-prompt-templates", "--no-themes", ...(o.extensions ?? []).flatMap((e) => ["-e", e])]
		: hermeticArgs(o.version, o.extensions);
	return [...piBin(o.version), ...base, ...(o.args ?? []), ...tail];
}

/** Write a script and clear its state files (also per-agent ones) and log, so runs start at step 0. */
export function writeScript(path: string, script: Script): void {
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path, JSON.stringify(script, null, 2));
	const base = basename(path);
	for (const f of readdirSync(dirname(path))) {
		if (f.startsWith(`${base}.`) && (f.endsWith(".state.json") || f === `${base}.log.jsonl`)) {
			rmSync(join(dirname(path), f), { force: true });
		}
	}
}

/**
 * Write `<tmpDir>/agent/settings.json` so that ANY pi started with hermeticEnv(tmpDir)
 * (e.g. teammates our extension spawns, which get no -e flags) loads the scripted
 * provider plus `extensions` and defaults to the scripted model. Do not combine with
 * hermeticArgs' -e for the same files (pi would load them twice).
 */
export function writeAgentSettings(tmpDir: string, extensions: string[] = [], extra: Record<string, unknown> = {}): string {
	const file = join(tmpDir, "agent", "settings.json");
	mkdirSync(dirname(file), { recursive: true });
	const settings = {
		extensions: [SCRIPTED_PROVIDER, ...extensions],
		defaultProvider: "scripted",
		defaultModel: "scripted-1",
		quietStartup: true,
		...extra,
	};
	writeFileSync(file, JSON.stringify(settings, null, 2));
	return file;
}

/** JSON argv for $CLANKER_TEAMS_AGENT_CMD so spawned teammates run this pi version. */
export function agentCmdEnv(version: PiVersion): string {
	return JSON.stringify(piBin(version));
}

/** One line per model call made by the scripted provider. */
export interface ScriptLogEntry {
	pid: number;
	/** $CLANKER_AGENT_NAME of the pi process, else "team-lead". */
	agent: string;
	call: number;
	source: string;
	lastRole: string;
	lastText: string;
	lastToolName?: string;
	systemPrompt: string;
	tools: string[];
	reply?: { text?: string; calls: Array<{ name: string; arguments: Record<string, unknown> }> };
	error?: string;
}

export function readScriptLog(scriptPath: string): ScriptLogEntry[] {
	const f = `${scriptPath}.log.jsonl`;
	if (!existsSync(f)) return [];
	return readFileSync(f, "utf8")
		.split("\n")
		.filter(Boolean)
		.map((l) => JSON.parse(l) as ScriptLogEntry);
}

/** `pi -p <prompts...>`: run to completion, return output. */
export async function runPiPrint(o: PiOptions & { prompts: string[]; json?: boolean; timeoutMs?: number }) {
	const [cmd, ...argv] = fullArgv(o, [...(o.json ? ["--mode", "json"] : []), "-p", ...o.prompts]);
	const r = await execa(cmd, argv, {
		cwd: o.cwd,
		env: o.env,
		extendEnv: false,
		reject: false,
		timeout: o.timeoutMs ?? 60_000,
		stdin: "ignore",
	});
	return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, timedOut: r.timedOut };
}

export type RpcEvent = { type: string; [k: string]: any };

export interface RpcHandle {
	child: ChildProcess;
	/** Every JSON line received so far (events and responses). */
	events: RpcEvent[];
	stderr(): string;
	/** Send a command; resolves with its `response`. */
	send(cmd: Record<string, unknown>, timeoutMs?: number): Promise<RpcEvent>;
	/** Shorthand for send({type:"prompt", message}). */
	prompt(message: string, streamingBehavior?: "steer" | "followUp"): Promise<RpcEvent>;
	/** First event (from index `from`, default: any seen so far) satisfying `pred`. */
	waitFor(pred: (e: RpcEvent) => boolean, opts?: { timeoutMs?: number; from?: number }): Promise<RpcEvent>;
	/**
	 * Poll get_state until not streaming and (unless allowPending) no queued messages.
	 * Resolves with the final state data.
	 */
	waitIdle(opts?: { timeoutMs?: number; allowPending?: boolean }): Promise<Record<string, any>>;
	/** prompt() then waitIdle(): the whole run, including follow-ups it triggers. */
	run(message: string): Promise<Record<string, any>>;
	/** Count events of a type (e.g. "agent_end"). */
	count(type: string): number;
	/** Close stdin, wait for exit (SIGKILL after timeout). */
	close(timeoutMs?: number): Promise<number | null>;
	exited: Promise<number | null>;
}

/** Start `pi --mode rpc` and wait until it answers get_state. */
export async function startPiRpc(o: PiOptions & { readyTimeoutMs?: number }): Promise<RpcHandle> {
	const [cmd, ...argv] = fullArgv(o, ["--mode", "rpc"]);
	const child = spawn(cmd, argv, { cwd: o.cwd, env: o.env, stdio: ["pipe", "pipe", "pipe"] });
	const events: RpcEvent[] = [];
	let err = "";
	let buf = "";
	let waiters: Array<() => void> = [];
	const notify = () => {
		const w = waiters;
		waiters = [];
		for (const f of w) f();
	};
	child.stdout!.setEncoding("utf8");
	child.stdout!.on("data", (chunk: string) => {
		buf += chunk;
		let nl: number;
		// split on \n only (readline would also split on U+2028/2029)
		while ((nl = buf.indexOf("\n")) >= 0) {
			const line = buf.slice(0, nl).replace(/\r$/, "");
			buf = buf.slice(nl + 1);
			if (!line.trim()) continue;
			try {
				events.push(JSON.parse(line));
			} catch {
				events.push({ type: "non_json", line });
			}
		}
		notify();
	});
	child.stderr!.setEncoding("utf8");
	child.stderr!.on("data", (c: string) => (err += c));
	const exited = new Promise<number | null>((res) => child.on("exit", (code) => (notify(), res(code))));
	let exitCode: number | null | undefined;
	exited.then((c) => (exitCode = c));

	const waitFor: RpcHandle["waitFor"] = (pred, opts = {}) => {
		const timeoutMs = opts.timeoutMs ?? 30_000;
		let i = opts.from ?? 0;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(
				() => reject(new Error(`rpc waitFor timed out after ${timeoutMs}ms; last events: ${events.slice(-5).map((e) => e.type).join(",")}; stderr: ${err.slice(-500)}`)),
				timeoutMs,
			);
			const check = () => {
				for (; i < events.length; i++) {
					if (pred(events[i])) {
						clearTimeout(timer);
						return resolve(events[i]);
					}
				}
				if (exitCode !== undefined) {
					clearTimeout(timer);
					return reject(new Error(`pi exited (${exitCode}) before event; stderr: ${err.slice(-1000)}`));
				}
				waiters.push(check);
			};
			check();
		});
	};
	let nextId = 0;
	const send: RpcHandle["send"] = (c, timeoutMs) => {
		const id = `h${++nextId}`;
		const from = events.length;
		child.stdin!.write(`${JSON.stringify({ ...c, id })}\n`);
		return waitFor((e) => e.type === "response" && e.id === id, { from, timeoutMs });
	};
	const handle: RpcHandle = {
		child,
		events,
		stderr: () => err,
		send,
		prompt: (message, streamingBehavior) => send({ type: "prompt", message, ...(streamingBehavior ? { streamingBehavior } : {}) }),
		waitFor,
		count: (type) => events.filter((e) => e.type === type).length,
		async waitIdle(opts = {}) {
			const end = Date.now() + (opts.timeoutMs ?? 30_000);
			for (;;) {
				const st = (await send({ type: "get_state" })).data;
				if (!st.isStreaming && (opts.allowPending || !st.pendingMessageCount)) return st;
				if (Date.now() > end) throw new Error(`pi not idle: ${JSON.stringify(st).slice(0, 300)}`);
				await new Promise((r) => setTimeout(r, 50));
			}
		},
		async run(message) {
			const from = events.length;
			const r = await handle.prompt(message);
			if (!r.success) throw new Error(`prompt rejected: ${JSON.stringify(r)}`);
			await waitFor((e) => e.type === "agent_end", { from });
			return handle.waitIdle();
		},
		exited,
		async close(timeoutMs = 5000) {
			child.stdin!.end();
			const t = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
			const t2 = setTimeout(() => child.kill("SIGKILL"), timeoutMs * 2);
			const code = await exited;
			clearTimeout(t);
			clearTimeout(t2);
			return code;
		},
	};
	await send({ type: "get_state" }, o.readyTimeoutMs ?? 60_000);
	return handle;
}

/** Run a tmux command on a private server (`-L socket`, no user config). */
export async function tmux(socket: string, args: string[]) {
	const r = await execa("tmux", ["-L", socket, "-f", "/dev/null", ...args], { reject: false, extendEnv: true });
	if (r.exitCode !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${r.stderr}`);
	return r.stdout;
}

/** Kill a private tmux server (ignores "no server"). */
export async function killTmuxServer(socket: string): Promise<void> {
	await execa("tmux", ["-L", socket, "kill-server"], { reject: false });
}

export interface TmuxPiHandle {
	socket: string;
	paneId: string;
	/** Visible screen text (plus `history` lines of scrollback). */
	capture(history?: number): Promise<string>;
	/** Poll capture() until `re` matches; returns the screen. */
	waitForText(re: RegExp, timeoutMs?: number): Promise<string>;
	/** Type literal text (no Enter). */
	type(text: string): Promise<void>;
	/** Send tmux key names, e.g. "Enter", "C-c", "Escape". */
	keys(...keys: string[]): Promise<void>;
	/** True while the pane's process is running. */
	isAlive(): Promise<boolean>;
	kill(): Promise<void>;
}

/**
 * Start interactive pi in a new session of a private tmux server. The pane stays
 * (remain-on-exit) after pi exits so the last screen can still be captured.
 */
export async function startPiInTmux(
	socket: string,
	o: PiOptions & { prompt?: string; width?: number; height?: number },
): Promise<TmuxPiHandle> {
	const argv = fullArgv(o, o.prompt !== undefined ? [o.prompt] : []);
	const env = { ...o.env, TERM: "tmux-256color" };
	// argv (more than one word) is exec'ed by tmux without a shell
	const envArgv = ["env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
	const session = `pi${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
	// Options first, in their own invocation (exit-empty off keeps the server up):
	// remain-on-exit keeps the last screen capturable after pi exits. Several words
	// after new-session's options are exec'ed without a shell; only an argument
	// ending in ";" needs escaping (tmux would take it as a command separator).
	await tmux(socket, [
		"start-server", ";",
		"set-option", "-g", "exit-empty", "off", ";",
		"set-option", "-g", "remain-on-exit", "on",
	]);
	const paneId = (
		await tmux(socket, [
			"new-session", "-d", "-s", session, "-x", String(o.width ?? 120), "-y", String(o.height ?? 40),
			"-c", o.cwd, "-P", "-F", "#{pane_id}", ...envArgv.map((a) => a.replace(/;$/, "\\;")),
		])
	).trim();
	const capture = async (history = 0) =>
		tmux(socket, ["capture-pane", "-p", "-t", paneId, ...(history ? ["-S", String(-history)] : [])]);
	return {
		socket,
		paneId,
		capture,
		async waitForText(re, timeoutMs = 30_000) {
			const end = Date.now() + timeoutMs;
			let screen = "";
			while (Date.now() < end) {
				screen = await capture(200);
				if (re.test(screen)) return screen;
				await new Promise((r) => setTimeout(r, 100));
			}
			throw new Error(`tmux pane ${paneId}: ${re} not seen in ${timeoutMs}ms. Screen:\n${screen}`);
		},
		async type(text) {
			await tmux(socket, ["send-keys", "-t", paneId, "-l", text]);
		},
		async keys(...keys) {
			await tmux(socket, ["send-keys", "-t", paneId, ...keys]);
		},
		async isAlive() {
			const dead = await tmux(socket, ["display-message", "-p", "-t", paneId, "#{pane_dead}"]);
			return dead.trim() !== "1";
		},
		async kill() {
			await tmux(socket, ["kill-pane", "-t", paneId]).catch(() => {});
		},
	};
}

/** A unique private tmux socket name for one test file. */
export function uniqueSocket(tag = "pi"): string {
	return `clanker-test-${tag}-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
}
