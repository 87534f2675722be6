#!/usr/bin/env node
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// `clanker-teams tools | head` closes the pipe early: that is not an error.
process.stdout.on("error", (e) => { if (e.code === "EPIPE") process.exit(0); throw e; });

// `npm run build` swaps a complete new dist/ in with two renames (scripts/build.mjs). A CLI started at
// that instant may find no dist/, or load modules of two builds; then it starts itself once more.
const attempt = Number(process.env.CLANKER_TEAMS_CLI_ATTEMPT || 0);
const buildId = () => { try { return readFileSync(new URL("../dist/.build-id", import.meta.url), "utf8"); } catch { return null; } };
const before = buildId();
let cli;
let failure;
try {
  cli = await import("../dist/src/hosts/cli.js");
} catch (e) {
  failure = e;
}
const swapped = buildId() !== before;
const loadError = failure && (failure.code === "ERR_MODULE_NOT_FOUND" || failure instanceof SyntaxError);
if ((swapped || loadError) && attempt < 5) {
  await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, CLANKER_TEAMS_CLI_ATTEMPT: String(attempt + 1) },
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => { process.exitCode = code ?? 128 + (signal === "SIGINT" ? 2 : signal === "SIGHUP" ? 1 : 15); });
} else if (failure) {
  process.stderr.write(`clanker-teams: ${failure?.stack ?? failure}\n${loadError ? "(dist/ is missing or incomplete: run npm run build)\n" : ""}`);
  process.exitCode = 1;
} else {
  cli.main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`clanker-teams: ${e?.stack ?? e}\n`); process.exitCode = 1; },
  );
}
