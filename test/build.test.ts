/**
 * SLOW (half a minute to minutes, with the load: two real builds of a copy of the project).
 * `npm run build` never exposes a half-built dist/: while it rebuilds, with an
 * export renamed in each build, the CLI runs in a loop and never crashes, and
 * dist/ is never seen holding modules of two builds.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { execa } from "execa";
import { ROOT, cleanupTemp, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTemp);

/** A copy of the project (sources, bin, build script, package.json) sharing node_modules, so the real dist/ is not touched. */
function copyProject(): string {
  const dir = tempDir("clanker-build-");
  for (const f of ["package.json", "tsconfig.json"]) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  // (bench/ starts its PostgreSQL with the tests' helper: test/helpers/pg.ts is part of the build.)
  for (const d of ["src", "bench", "bin", "scripts", "templates", "test/helpers"]) {
    if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** Build `n` renames an export of errors.ts (built first) that cli.ts (built late) imports: two builds never link. */
function markSources(dir: string, n: number): void {
  const errors = fs.readFileSync(path.join(ROOT, "src", "errors.ts"), "utf8");
  const cli = fs.readFileSync(path.join(ROOT, "src", "hosts", "cli.ts"), "utf8");
  fs.writeFileSync(path.join(dir, "src", "errors.ts"), `${errors}\nexport const BUILD_MARK_${n} = ${n};\n`);
  fs.writeFileSync(path.join(dir, "src", "hosts", "cli.ts"), `${cli}\nimport { BUILD_MARK_${n} } from "../errors.js";\nexport const buildMark = BUILD_MARK_${n};\n`);
}

const markIn = (file: string): string | null => {
  try { return /BUILD_MARK_(\d+)/.exec(fs.readFileSync(file, "utf8"))?.[1] ?? "none"; } catch { return null; }
};

it("a rebuild never exposes a half-built dist/, and the CLI run meanwhile never crashes", async () => {
  const dir = copyProject();
  const cliJs = path.join(dir, "dist", "src", "hosts", "cli.js");
  const errorsJs = path.join(dir, "dist", "src", "errors.js");
  markSources(dir, 0);
  const first = await execa("npm", ["run", "build"], { cwd: dir, reject: false });
  expect([first.exitCode, markIn(cliJs), markIn(errorsJs)]).toEqual([0, "0", "0"]);

  const mixed: string[] = [];
  const failures: string[] = [];
  let samples = 0;
  let runs = 0;
  for (const n of [1]) {
    markSources(dir, n);
    let building = true;
    const build = execa("npm", ["run", "build"], { cwd: dir, reject: false }).finally(() => { building = false; });
    const cliLoop = (async () => {
      while (building) {
        const r = await execa(process.execPath, [path.join(dir, "bin", "clanker-teams.js"), "tools"], { reject: false, env: { ...process.env, NO_COLOR: "1" } });
        runs++;
        if (r.exitCode !== 0 || r.stderr || !r.stdout.includes("task_create(")) failures.push(`exit ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
      }
    })();
    // Look at dist/ as a loading process would: cli.js, then errors.js, then cli.js again (unchanged in between).
    while (building) {
      for (let i = 0; i < 20; i++) {
        const a = markIn(cliJs);
        const b = markIn(errorsJs);
        const c = markIn(cliJs);
        samples++;
        if (a === c && a !== b) mixed.push(`cli.js ${a}, errors.js ${b}`);
      }
      await new Promise((r) => setTimeout(r, 2)); // leave the CPU to tsc
    }
    const built = await build;
    await cliLoop;
    expect([built.exitCode, markIn(cliJs), markIn(errorsJs)]).toEqual([0, String(n), String(n)]);
  }
  expect(samples).toBeGreaterThan(500);
  expect(runs).toBeGreaterThanOrEqual(2);
  expect(mixed.slice(0, 5)).toEqual([]);
  expect(failures).toEqual([]);
  // Nothing of the builds is left next to dist/.
  expect(fs.readdirSync(dir).filter((e) => e.startsWith(".dist-"))).toEqual([]);

  // The instant between the two renames, dist/ is absent: a CLI started then tries again.
  const bin = path.join(dir, "bin", "clanker-teams.js");
  fs.renameSync(path.join(dir, "dist"), path.join(dir, "dist-aside"));
  const late = execa(process.execPath, [bin, "--version"], { reject: false });
  await new Promise((r) => setTimeout(r, 150));
  fs.renameSync(path.join(dir, "dist-aside"), path.join(dir, "dist"));
  expect(await late).toMatchObject({ exitCode: 0, stderr: "" });
  // With no dist/ at all it gives up and says what to do.
  fs.renameSync(path.join(dir, "dist"), path.join(dir, "dist-aside"));
  const none = await execa(process.execPath, [bin, "--version"], { reject: false });
  expect(none.exitCode).toBe(1);
  expect(none.stderr).toMatch(/dist\/ is missing or incomplete: run npm run build/);
}, 400_000);
