#!/bin/sh
# clanker-teams completion hook: tell people a task was completed. Never vetoes.
#
# Install:   mkdir -p .clanker/team-hooks
#            cp hooks/notify.sh .clanker/team-hooks/task_completed.sh
#            chmod +x .clanker/team-hooks/task_completed.sh
#
# Runs in the completing agent's working directory with the task JSON as $1
# (and on stdin) and CLANKER_TEAM, CLANKER_TASK_ID, CLANKER_TASK_SUBJECT,
# CLANKER_AGENT set. Where the notice goes:
#   - always: one line on stdout (shown to the agent in the tool result)
#   - a desktop notification, if notify-send (Linux) or osascript (macOS) exists
#   - $CLANKER_NOTIFY_WEBHOOK, if set: the task JSON is POSTed to it with curl
#     (Slack/Discord-style hooks that want {"text": ...} can use
#     CLANKER_NOTIFY_FORMAT=text)
#   - $CLANKER_NOTIFY_LOG, if set: one line appended to that file
# Failures to notify are printed, and the hook still exits 0.
set -u

team="${CLANKER_TEAM:-?}"
id="${CLANKER_TASK_ID:-?}"
subject="${CLANKER_TASK_SUBJECT:-}"
agent="${CLANKER_AGENT:-?}"
message="[$team] task #$id completed by $agent: $subject"

echo "$message"

if [ -n "${CLANKER_NOTIFY_LOG:-}" ]; then
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$message" >>"$CLANKER_NOTIFY_LOG" || echo "notify: cannot write $CLANKER_NOTIFY_LOG"
fi

if command -v notify-send >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  notify-send "clanker-teams" "$message" || true
elif command -v osascript >/dev/null 2>&1; then
  # The text goes in as an argv item, never spliced into the script.
  osascript -e 'on run argv' -e 'display notification (item 1 of argv) with title "clanker-teams"' -e 'end run' "$message" || true
fi

if [ -n "${CLANKER_NOTIFY_WEBHOOK:-}" ]; then
  if ! command -v curl >/dev/null 2>&1; then
    echo "notify: curl not found; cannot post to the webhook"
  elif [ "${CLANKER_NOTIFY_FORMAT:-json}" = "text" ]; then
    # {"text": "..."} built by node (always there for clanker-teams) so quotes in the subject stay valid JSON.
    node -e 'process.stdout.write(JSON.stringify({ text: process.argv[1] }))' "$message" |
      curl -fsS --max-time 10 -H 'Content-Type: application/json' --data-binary @- "$CLANKER_NOTIFY_WEBHOOK" >/dev/null ||
      echo "notify: webhook post failed"
  else
    # The full task JSON is on stdin ($1 may be cut down for very large tasks).
    curl -fsS --max-time 10 -H 'Content-Type: application/json' --data-binary @- "$CLANKER_NOTIFY_WEBHOOK" >/dev/null ||
      echo "notify: webhook post failed"
  fi
fi

exit 0
