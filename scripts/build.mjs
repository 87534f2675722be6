#!/usr/bin/env node
/**
 * `npm run build`: compiles into a fresh directory next to dist/ and swaps it in
 * with two renames, so nothing ever sees a half-written dist/ (a CLI started
 * during `npm test` used to load new and old modules together and crash with a
 * missing export). Arguments are passed on to tsc. The exit code is tsc's: on
 * type errors tsc still emits, and that output is swapped in as before.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const STALE_MS = 10 * 60_000;

// Leftovers of builds that were killed half-way.
for (const e of fs.readdirSync(root)) {
  if (!/^\.dist-(build|old)-/.test(e)) continue;
  const p = path.join(root, e);
  try { if (Date.now() - fs.statSync(p).mtimeMs > STALE_MS) fs.rmSync(p, { recursive: true, force: true }); } catch { /* another build took it */ }
}

const tmp = fs.mkdtempSync(path.join(root, ".dist-build-"));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.json"), "--outDir", tmp, ...process.argv.slice(2)], { stdio: "inherit" });
if (!fs.existsSync(path.join(tmp, "src", "index.js"))) {
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stderr.write("build: tsc produced no output; dist/ is unchanged\n");
  process.exit(r.status || 1);
}
// Which build a process loaded: bin/clanker-teams.js compares it before and after loading.
fs.writeFileSync(path.join(tmp, ".build-id"), `${Date.now()}-${process.pid}-${randomBytes(4).toString("hex")}\n`);

// dist/ cannot be replaced by a rename while it is not empty: move it aside, move the new one in.
// Another build may swap in between (then dist/ exists again): try again.
const old = [];
for (let attempt = 0; ; attempt++) {
  const aside = path.join(root, `.dist-old-${randomBytes(6).toString("hex")}`);
  try { fs.renameSync(dist, aside); old.push(aside); } catch (e) { if (e.code !== "ENOENT") throw e; }
  try {
    fs.renameSync(tmp, dist);
    break;
  } catch (e) {
    if (!["ENOTEMPTY", "EEXIST"].includes(e.code) || attempt >= 20) throw e;
  }
}
for (const p of old) fs.rmSync(p, { recursive: true, force: true });
process.exit(r.status ?? 1);
