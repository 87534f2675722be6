/**
 * Runs in every test worker before the tests: the default data directory is a
 * fresh temp dir, so a test that forgets to pass its own never touches ~/.clanker.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

if (!process.env.CLANKER_TEAMS_DIR?.startsWith(tmpdir())) {
  const dir = mkdtempSync(join(tmpdir(), "clanker-safe-"));
  process.env.CLANKER_TEAMS_DIR = dir;
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.CLANKER_TEAMS_DIR;
  });
}
