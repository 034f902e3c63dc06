#!/bin/sh
# Streams one turn of the built-in mock agent from a running agentd, then
# shows the two guarantees of the event stream: a reconnect with
# Last-Event-ID replays exactly what came after that id, and a stream of an
# ended session closes after its last event (204 when nothing is left).
#
#   agentd server --no-token &            # or: go run ./cmd/agentd server --no-token
#   ./examples/curl/stream-turn.sh        # or: sh examples/curl/stream-turn.sh "tool"
#
# Environment: AGENTD_URL (default http://127.0.0.1:2468), AGENTD_TOKEN (when
# the daemon runs with --token), RAW=1 to print the SSE frames as they come.
# The first argument is the message (default "hello"; "help" lists the mock
# agent's scripts). Needs only sh, curl, sed and grep.
set -eu

url="${AGENTD_URL:-http://127.0.0.1:2468}"
message="${1:-hello}"
session="curl-example-$$"

# api METHOD PATH [curl args...]: one request with the token, if any.
api() {
	m=$1 p=$2
	shift 2
	if [ -n "${AGENTD_TOKEN:-}" ]; then
		curl -sS -X "$m" -H "Authorization: Bearer $AGENTD_TOKEN" "$@" "$url$p"
	else
		curl -sS -X "$m" "$@" "$url$p"
	fi
}

# frames: reads an SSE stream and prints one line per event: its id, type
# and, for text deltas, the text. RAW=1 prints the frames untouched.
frames() {
	if [ "${RAW:-}" = 1 ]; then
		cat
		return
	fi
	while IFS= read -r line; do
		case "$line" in
		id:*) id=${line#id: } ;;
		data:*)
			type=$(printf '%s\n' "$line" | sed -n 's/.*"source":"[a-z]*","type":"\([^"]*\)".*/\1/p')
			text=""
			if [ "$type" = item.delta ]; then
				text=$(printf '%s\n' "$line" | sed -n 's/.*"delta":"\(\([^"\\]\|\\.\)*\)".*/\1/p')
			fi
			printf '  #%-3s %-22s %s\n' "$id" "$type" "$text"
			;;
		esac
	done
}

echo "health: $(api GET /v1/health)"

echo "create session $session (agent mock): $(api POST "/v1/sessions/$session" \
	-H 'content-type: application/json' -d '{"agent":"mock"}')"

echo "send \"$message\" and stream the turn (POST …/messages/stream ends after turn.ended):"
body=$(printf '{"message":"%s"}' "$(printf '%s' "$message" | sed 's/["\\]/\\&/g')")
api POST "/v1/sessions/$session/messages/stream" -N \
	-H 'content-type: application/json' -H 'accept: text/event-stream' -d "$body" | frames

echo "terminate the session: HTTP $(api POST "/v1/sessions/$session/terminate" -o /dev/null -w '%{http_code}')"

echo "resume from Last-Event-ID: 3 (replays 4…, then closes after session.ended):"
replay=$(api GET "/v1/sessions/$session/events/sse" -N -H 'Last-Event-ID: 3')
printf '%s\n' "$replay" | frames
last_id=$(printf '%s\n' "$replay" | sed -n 's/^id: //p' | tail -n 1)
echo "the stream closed by itself after event #$last_id"

echo "resume from the end (Last-Event-ID: $last_id): HTTP $(api GET "/v1/sessions/$session/events/sse" \
	-H "Last-Event-ID: $last_id" -o /dev/null -w '%{http_code}') (nothing left: no reconnect)"

echo "the whole transcript: GET $url/v1/sessions/$session/events"
