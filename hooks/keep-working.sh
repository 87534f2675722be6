#!/bin/sh
# clanker-teams teammate_idle hook: do not let a teammate go idle while it
# still owns an in_progress task (or, in its own worktree, has uncommitted
# changes). Sends it back to work with a reminder, a few times at most.
#
# Install:   mkdir -p .clanker/team-hooks
#            cp hooks/keep-working.sh .clanker/team-hooks/teammate_idle.sh
#            chmod +x .clanker/team-hooks/teammate_idle.sh
#
# clanker-teams runs it each time a teammate goes idle, in the teammate's
# working directory, with this JSON as $1 (and on stdin):
#   {"team":..., "agent":..., "tasks":[{"id","subject","status","owner",...}], "feedbackCount":N}
# (tasks: the teammate's unfinished tasks) and CLANKER_TEAM, CLANKER_AGENT,
# CLANKER_IDLE_FEEDBACK_COUNT set (how many times in a row this hook has
# already sent the teammate back).
#   exit 0 -> the teammate stays idle
#   exit 2 -> this output goes back to the teammate as a message; it keeps working
#   other  -> reported to the lead (once)
# CLANKER_IDLE_MAX_FEEDBACK (default 3): after that many rounds in a row, let it rest.
# CLANKER_IDLE_CHECK_GIT=0 skips the uncommitted-changes check.
set -u

payload="${1:-}"
[ -n "$payload" ] || payload="$(cat)"
rounds="${CLANKER_IDLE_FEEDBACK_COUNT:-0}"
if [ "$rounds" -ge "${CLANKER_IDLE_MAX_FEEDBACK:-3}" ]; then
  echo "keep-working: sent ${CLANKER_AGENT:-the teammate} back $rounds times in a row; letting it rest."
  exit 0
fi

# The payload is JSON.stringify output: no spaces around ':' or ','.
busy_tasks="$(printf '%s' "$payload" | tr '{' '\n' | grep '"status":"in_progress"' | sed -n 's/.*"id":"\([^"]*\)".*"subject":"\([^"]*\)".*/#\1 "\2"/p')"
dirty=""
if [ "${CLANKER_IDLE_CHECK_GIT:-1}" != "0" ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  dirty="$(git status --porcelain --untracked-files=normal 2>/dev/null | head -n 10)"
fi

if [ -n "$busy_tasks" ]; then
  echo "You went idle, but these tasks are still yours and in_progress:"
  printf '%s\n' "$busy_tasks"
  echo "Finish them and set them completed (task_update), or task_release them with the reason, or tell team-lead what blocks you."
  exit 2
fi
if [ -n "$dirty" ]; then
  echo "You went idle with uncommitted changes in $(pwd):"
  printf '%s\n' "$dirty"
  echo "Commit them (git add + git commit) so the lead can merge your branch, or say why not."
  exit 2
fi
exit 0
