#!/bin/sh
# clanker-teams completion hook: run the project's linter before a task may be completed.
#
# Install:   mkdir -p .clanker/team-hooks
#            cp hooks/lint.sh .clanker/team-hooks/task_completed.sh
#            chmod +x .clanker/team-hooks/task_completed.sh
# (To run tests AND lint, make task_completed.sh call both and exit 2 if either does.)
#
# Runs in the completing agent's working directory with the task JSON as $1
# (and on stdin) and CLANKER_TEAM, CLANKER_TASK_ID, CLANKER_AGENT set.
#   exit 0 -> clean; exit 2 -> VETO: task back to in_progress with this output.
# Set CLANKER_LINT_VETO=0 to only report lint errors (exit 1) without vetoing.
#
# The linter: $CLANKER_LINT_CMD if set (run by sh), else the first of:
# npm run lint (package.json with a "lint" script), eslint (an eslint config),
# ruff check, cargo clippy, golangci-lint run, shellcheck on tracked *.sh.
set -u

if [ -n "${CLANKER_LINT_CMD:-}" ]; then
  set -- sh -c "$CLANKER_LINT_CMD"
elif [ -f package.json ] && grep -q '"lint"[[:space:]]*:' package.json; then
  set -- npm run lint --silent
elif ls eslint.config.* .eslintrc* >/dev/null 2>&1; then
  set -- npx --no-install eslint .
elif [ -f pyproject.toml ] && command -v ruff >/dev/null 2>&1; then
  set -- ruff check .
elif [ -f Cargo.toml ]; then
  set -- cargo clippy --quiet -- -D warnings
elif [ -f go.mod ] && command -v golangci-lint >/dev/null 2>&1; then
  set -- golangci-lint run
elif command -v shellcheck >/dev/null 2>&1 && git ls-files '*.sh' 2>/dev/null | grep -q .; then
  # shellcheck gets the file names as arguments, never through a shell string.
  git ls-files -z '*.sh' | xargs -0 shellcheck
  status=$?
  [ "$status" -eq 0 ] && { echo "shellcheck: clean."; exit 0; }
  [ "${CLANKER_LINT_VETO:-1}" = "0" ] && exit 1
  exit 2
else
  echo "lint hook: no linter found in $(pwd) (set CLANKER_LINT_CMD); not checking."
  exit 0
fi

output="$("$@" 2>&1 </dev/null)"
status=$?
if [ "$status" -eq 0 ]; then
  echo "Lint clean for task #${CLANKER_TASK_ID:-?} ($*)."
  exit 0
fi
echo "Lint FAILED (exit $status) for task #${CLANKER_TASK_ID:-?}: $*"
printf '%s\n' "$output" | tail -n "${CLANKER_LINT_TAIL:-60}"
[ "${CLANKER_LINT_VETO:-1}" = "0" ] && exit 1
exit 2
