#!/bin/sh
# clanker-teams completion hook: run the project's tests before a task may be completed.
#
# Install:   mkdir -p .clanker/team-hooks
#            cp hooks/run-tests.sh .clanker/team-hooks/task_completed.sh
#            chmod +x .clanker/team-hooks/task_completed.sh
#
# clanker-teams runs it in the completing agent's working directory after the
# task is saved as completed, with the task JSON as $1 (and on stdin) and
# CLANKER_TEAM, CLANKER_TASK_ID, CLANKER_TASK_SUBJECT, CLANKER_AGENT set.
#   exit 0  -> the task stays completed
#   exit 2  -> VETO: the task goes back to in_progress and the output below
#              becomes its feedback, so the agent sees which tests failed
#   other   -> reported to the agent, the task stays completed
#
# The test command: $CLANKER_TEST_CMD if set (run by sh, e.g. "npm test -- --run"),
# else the first of: npm test (package.json with a "test" script), make test,
# cargo test, go test ./..., pytest. Nothing found: exit 0 with a note.
# Output is cut to the last $CLANKER_TEST_TAIL lines (default 60).
# Anything the tests leave running (a server started in the background) is
# killed by clanker-teams when this hook exits, and listed in the result.
set -u

tail_lines="${CLANKER_TEST_TAIL:-60}"

if [ -n "${CLANKER_TEST_CMD:-}" ]; then
  set -- sh -c "$CLANKER_TEST_CMD"
elif [ -f package.json ] && grep -q '"test"[[:space:]]*:' package.json; then
  set -- npm test --silent
elif [ -f Makefile ] && grep -q '^test:' Makefile; then
  set -- make test
elif [ -f Cargo.toml ]; then
  set -- cargo test --quiet
elif [ -f go.mod ]; then
  set -- go test ./...
elif [ -f pytest.ini ] || [ -f pyproject.toml ] || [ -f setup.cfg ] || [ -d tests ]; then
  set -- python3 -m pytest -q
else
  echo "run-tests hook: no test command found in $(pwd) (set CLANKER_TEST_CMD); not checking."
  exit 0
fi

out="$(mktemp "${TMPDIR:-/tmp}/clanker-tests.XXXXXX")" || exit 1
trap 'rm -f "$out"' EXIT INT TERM

"$@" >"$out" 2>&1 </dev/null
status=$?

if [ "$status" -eq 0 ]; then
  echo "Tests passed for task #${CLANKER_TASK_ID:-?} ($*)."
  exit 0
fi

echo "Tests FAILED (exit $status) for task #${CLANKER_TASK_ID:-?} \"${CLANKER_TASK_SUBJECT:-}\": $*"
echo "Fix them, then mark the task completed again. Last $tail_lines lines:"
echo "----"
tail -n "$tail_lines" "$out"
exit 2
