#!/bin/sh
# clanker-teams task_created hook: refuse tasks nobody could finish well: an
# empty description, or one that does not say how to know it is done.
#
# Install:   mkdir -p .clanker/team-hooks
#            cp hooks/task-policy.sh .clanker/team-hooks/task_created.sh
#            chmod +x .clanker/team-hooks/task_created.sh
#
# clanker-teams runs it before a task is created, in the creating agent's
# working directory, with the task about to be created as JSON in $1 (and on
# stdin; its "id" is "" as it has none yet) and CLANKER_TEAM, CLANKER_AGENT,
# CLANKER_TASK_SUBJECT set.
#   exit 0 -> the task is created
#   exit 2 -> REFUSED: nothing is created; this output is the reason the creator sees
#   other  -> the task is created and the failure is reported with it
# CLANKER_TASK_DONE_WORDS: words of which the description must contain one
# (case-insensitive, '|'-separated; default "done when|test|verify|should|must").
# Set it to "" to only refuse empty descriptions.
set -u

payload="${1:-}"
[ -n "$payload" ] || payload="$(cat)"
words="${CLANKER_TASK_DONE_WORDS-done when|test|verify|should|must}"

# The payload is JSON.stringify output: "description":"..." with no spaces.
case "$payload" in
  *'"description":""'*)
    echo "Task \"${CLANKER_TASK_SUBJECT:-?}\" refused: its description is empty."
    echo "Say what to do and how to know it is done (e.g. \"Done when: npm test passes\"), then create it again."
    exit 2 ;;
esac
if [ -n "$words" ]; then
  description="$(printf '%s' "$payload" | sed -n 's/.*"description":"\(\([^"\\]\|\\.\)*\)".*/\1/p')"
  if ! printf '%s' "$description" | grep -Eiq "$words"; then
    echo "Task \"${CLANKER_TASK_SUBJECT:-?}\" refused: its description does not say how to know it is done"
    echo "(none of: $words). Add e.g. \"Done when: the cart tests pass\", then create it again."
    exit 2
  fi
fi
exit 0
