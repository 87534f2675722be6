#!/usr/bin/env node
import { main } from "../dist/src/hosts/cli.js";

// `clanker-teams tools | head` closes the pipe early: that is not an error.
process.stdout.on("error", (e) => { if (e.code === "EPIPE") process.exit(0); throw e; });

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`clanker-teams: ${e?.stack ?? e}\n`); process.exitCode = 1; },
);
