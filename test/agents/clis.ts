/**
 * The third-party agent CLIs for the end-to-end tests: installed on first use
 * from test/agents/package-lock.json (`npm install --prefix test/agents`, never
 * part of the package's own install), and each one's private settings for a
 * temp HOME pointing it at a scripted model server on 127.0.0.1.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { ScriptedModel, type ScriptBody } from "./models/engine.js";
import type { ModelServer } from "./models/engine.js";
import { anthropicServer } from "./models/anthropic.js";
import { responsesServer } from "./models/openai-responses.js";
import { geminiServer } from "./models/gemini.js";
import { chatServer } from "./models/openai-chat.js";

export const AGENTS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const AGENTS_BIN = path.join(AGENTS_DIR, "node_modules", ".bin");
export type CliKind = "claude" | "codex" | "gemini" | "opencode";

/** Installs the CLIs when they are missing (first run on a machine: a few minutes, ~1.1 GB); throws saying what failed. */
export async function ensureAgentClis(): Promise<string> {
  const missing = ["claude", "codex", "gemini", "opencode"].filter((b) => !fs.existsSync(path.join(AGENTS_BIN, b)));
  if (!missing.length) return AGENTS_BIN;
  // `npm install` of the locked versions, not `npm ci`: the lock holds only the platform packages this
  // registry serves (opencode's other platforms' optional packages are absent), which `npm ci` refuses.
  const r = await execa("npm", ["install", "--prefix", AGENTS_DIR, "--no-audit", "--no-fund", "--no-save"], { reject: false, timeout: 15 * 60_000, all: true });
  if (r.exitCode !== 0) throw new Error(`npm install --prefix test/agents failed (exit ${r.exitCode}); the agent CLIs could not be installed:\n${String(r.all).slice(-3000)}`);
  return AGENTS_BIN;
}

export interface CliSetup {
  model: ScriptedModel;
  server: ModelServer;
  /** Environment for the pane (API base URL, key, offline switches). */
  env: Record<string, string>;
  /** The model name to pass to spawn_teammate (provider/model where the CLI wants it). */
  modelName: string;
}

const KEY = "sk-test-scripted-0123456789abcdefghij";

/** Starts `kind`'s scripted model server and writes its private settings under `home` (trusting `repo`). */
export async function setupCli(kind: CliKind, script: ScriptBody, home: string, repo: string): Promise<CliSetup> {
  const model = new ScriptedModel(script);
  const write = (rel: string, text: string) => { const f = path.join(home, rel); fs.mkdirSync(path.dirname(f), { recursive: true }); fs.writeFileSync(f, text); };
  if (kind === "claude") {
    const server = await anthropicServer(model);
    write(".claude.json", JSON.stringify({
      hasCompletedOnboarding: true, numStartups: 5, theme: "dark", bypassPermissionsModeAccepted: true,
      customApiKeyResponses: { approved: [KEY.slice(-20)], rejected: [] },
      projects: { [repo]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, allowedTools: [] } },
    }));
    write(".claude/settings.json", JSON.stringify({ theme: "dark" }));
    return { model, server, modelName: "anthropic/claude-scripted", env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_AUTOUPDATER: "1" } };
  }
  if (kind === "codex") {
    const server = await responsesServer(model);
    write(".codex/config.toml", [
      'model = "scripted-1"', 'model_provider = "scripted"', 'approval_policy = "never"', 'sandbox_mode = "read-only"', "check_for_update_on_startup = false",
      "[analytics]", "enabled = false", "[features]", "plugins = false",
      "[model_providers.scripted]", 'name = "scripted"', `base_url = "${server.url}/v1"`, 'env_key = "SCRIPTED_API_KEY"', 'wire_api = "responses"',
      `[projects.${JSON.stringify(repo)}]`, 'trust_level = "trusted"', "",
    ].join("\n"));
    return { model, server, modelName: "openai/scripted-1", env: { SCRIPTED_API_KEY: KEY } };
  }
  if (kind === "gemini") {
    const server = await geminiServer(model);
    write(".gemini/settings.json", JSON.stringify({
      security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
      privacy: { usageStatisticsEnabled: false }, general: { disableAutoUpdate: true, disableUpdateNag: true }, ui: { hideTips: true, hideBanner: true },
    }));
    return { model, server, modelName: "gemini-scripted", env: { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: server.url, GEMINI_CLI_TRUST_WORKSPACE: "true" } };
  }
  const server = await chatServer(model);
  write(".config/opencode/opencode.json", JSON.stringify({
    $schema: "https://opencode.ai/config.json", autoupdate: false, share: "disabled",
    provider: { scripted: { npm: "@ai-sdk/openai-compatible", name: "Scripted", options: { baseURL: `${server.url}/v1`, apiKey: KEY }, models: { "scripted-1": { name: "scripted-1", tool_call: true } } } },
  }));
  // A fresh HOME makes opencode fetch a plugin package from npm in the background: a dead registry keeps it offline.
  return { model, server, modelName: "scripted/scripted-1", env: { OPENCODE_DISABLE_MODELS_FETCH: "1", OPENCODE_DISABLE_AUTOUPDATE: "1", npm_config_registry: "http://127.0.0.1:9/" } };
}
