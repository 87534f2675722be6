/** Builds dist/ once before any test file runs (the CLI and the worker processes run compiled code). */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export default function setup(): void {
  if (process.env.CLANKER_TEST_SKIP_BUILD) return;
  try {
    // The same build as `npm run build`: a fresh dir swapped in, so a CLI running meanwhile never sees half of it.
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "pipe" });
  } catch (e) {
    // tsc still emits on type errors (another engineer's file may be mid-edit); go on if the core was built.
    const out = String((e as { stdout?: Buffer }).stdout ?? "") + String((e as { stderr?: Buffer }).stderr ?? "");
    process.stderr.write(`global-setup: tsc reported errors:\n${out.slice(0, 4000)}\n`);
  }
  for (const f of ["dist/src/index.js", "dist/src/hosts/cli.js"]) {
    if (!existsSync(join(root, f))) throw new Error(`global-setup: build did not produce ${f}`);
  }
}
