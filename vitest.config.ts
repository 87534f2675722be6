import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once: real-process tests and the CLI run the compiled code.
    // pg.ts: the run's private PostgreSQL, started by the first test that needs one, stopped at the end.
    globalSetup: ["test/global-setup.ts", "test/helpers/pg.ts"],
    // Points CLANKER_TEAMS_DIR at a throwaway dir in every worker, so no test can touch ~/.clanker.
    setupFiles: ["test/helpers/safe-env.ts"],
    // Real processes, signals and process.chdir-free code: forks isolate best.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
