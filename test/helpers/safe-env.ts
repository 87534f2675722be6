/**
 * Runs in every test worker before the tests: the default data directory is a
 * fresh temp dir, so a test that forgets to pass its own never touches ~/.clanker.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

if (!process.env.CLANKER_TEAMS_DIR?.startsWith(tmpdir())) {
  process.env.CLANKER_TEAMS_DIR = mkdtempSync(join(tmpdir(), "clanker-safe-"));
}
