#!/usr/bin/env bash
# Runs the quickstart's commands (docs/quickstart.md) and examples/curl/stream-turn.sh
# against a fresh daemon with a token, checking what the docs say they print;
# then, with node and npm, the TypeScript examples (their npm dependencies come
# from the registry once, into ~/.cache/agentd; nothing else leaves the machine).
# About 10 s once agentd is built, plus a minute or so for the TypeScript.
#
#   examples/check.sh                 # builds ./cmd/agentd into a temp dir first
#   AGENTD_BIN=bin/agentd examples/check.sh
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-examples.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# The examples use this clone's agentd-sdk: build it unless sdk-ts/scripts/ci.sh
# (run before this script by .ci/test) already did.
build_sdk() {
	(cd "$root/sdk-ts" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
		{ node scripts/check-dist-fresh.mjs >/dev/null 2>&1 || npm run build >/dev/null; })
}

# ran REGEXP OUTPUT: whether a line of OUTPUT matches REGEXP; prints OUTPUT's end when not.
ran() {
	grep -qxE "$1" <<<"$2" && return 0
	echo "$2" | tail -n 40
	return 1
}

node_examples() {
	if ! build_sdk; then
		check "sdk-ts builds for the TypeScript examples" false
		return
	fi
	local ex out
	# E2B and Daytona: type-checked against the official SDKs' types (their
	# cloud halves cannot reach the clouds here); their agentd half runs
	# against this daemon.
	for ex in e2b daytona; do
		out=$(AGENTD_URL="$url" "$root/examples/shared/run.sh" "$ex" shared/local.js 2>&1)
		check "$ex: type-checks against its official SDK; its agentd half streams a mock turn" ran "agentd half: ok" "$out"
	done
	# Embedded mode, end to end: start() spawns the agentd built above.
	out=$(AGENTD_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" \
		"$root/examples/shared/run.sh" embedded embedded/main.js 2>&1)
	check "embedded: start() runs the built agentd, streams a mock turn and stops it" \
		ran "embedded: ok \(the daemon is stopped\)" "$out"
	out=$(node "$root/examples/shared/snippets.mjs" docs/guides/e2b.md docs/guides/daytona.md 2>&1)
	check "the guides' code is the examples' code" ran "snippets: [0-9]+ checked, 0 differ" "$out"
	local install_url
	install_url=$(sed -n 's/^#   curl -fsSL \(http[^ ]*\) | sh$/\1/p' "$root/install/install.sh")
	for ex in e2b daytona; do
		check "$ex installs from install.sh's documented URL" grep -qF "const INSTALL_URL = \"$install_url\";" "$root/examples/$ex/main.ts"
	done
}

bin=${AGENTD_BIN:-}
if [ -z "$bin" ]; then
	bin="$work/agentd"
	(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/agentd) || { echo "0 passed, 1 failed"; exit 1; }
fi

# Quickstart step 2: start with a token from the environment, on a free port.
export AGENTD_TOKEN
AGENTD_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
AGENTD_PORT=0 AGENTD_DATA_DIR="$work/data" "$bin" server 2>"$work/log" &
pid=$!
url=""
for _ in $(seq 1 100); do
	url=$(sed -n 's/.*msg="agentd listening" addr=\(http:[^ ]*\).*/\1/p' "$work/log")
	[ -n "$url" ] && break
	sleep 0.1
done
if [ -z "$url" ]; then cat "$work/log"; echo "0 passed, 1 failed"; exit 1; fi
AUTH="Authorization: Bearer $AGENTD_TOKEN"
check "listening line says auth=true" grep -q 'auth=true' "$work/log"

out=$(curl -s "$url/v1/health")
check "health: {\"status\":\"ok\",…}" grep -q '^{"status":"ok","version":"' <<<"$out"
check "a /v1 route without the token is 401 token_invalid" \
	grep -q 'token_invalid' <<<"$(curl -s "$url/v1/sessions")"

# Step 3: create.
out=$(curl -s -X POST "$url/v1/sessions/demo" -H "$AUTH" -H 'content-type: application/json' -d '{"agent":"mock"}')
check "create: {\"healthy\":true,\"nativeSessionId\":\"mock-demo\"}" test "$out" = '{"healthy":true,"nativeSessionId":"mock-demo"}'

# Step 4: subscribe, then send.
curl -sN "$url/v1/sessions/demo/events/sse" -H "$AUTH" >"$work/sse" &
sub=$!
for _ in $(seq 1 50); do grep -q '^id: 1$' "$work/sse" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/sessions/demo/messages" -H "$AUTH" \
	-H 'content-type: application/json' -d '{"message":"hello"}')
check "send: 204" test "$code" = 204
for _ in $(seq 1 100); do grep -q '"type":"turn.ended"' "$work/sse" && break; sleep 0.1; done
kill "$sub" 2>/dev/null
wait "$sub" 2>/dev/null
check "the subscriber got ids 1..8, session.started first, turn.ended at 8" \
	test "$(sed -n 's/^id: //p' "$work/sse" | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 "
check "event 6 is the delta \"hello\"" grep -q '"sequence":6,.*"type":"item.delta","data":{"item_id":"itm_2","native_item_id":"mock_1_reply","delta":"hello"}' "$work/sse"

out=$(curl -sN -X POST "$url/v1/sessions/demo/messages/stream" -H "$AUTH" -H 'content-type: application/json' -d '{"message":"tool"}')
check "messages/stream ends by itself after turn.ended" grep -q '"type":"turn.ended"' <<<"$(tail -n 2 <<<"$out")"

# Step 5: resume.
out=$(curl -sN --max-time 2 "$url/v1/sessions/demo/events/sse" -H "$AUTH" -H 'Last-Event-ID: 6')
check "Last-Event-ID: 6 resumes at 7" test "$(sed -n 's/^id: //p' <<<"$out" | head -n 1)" = 7
out=$(curl -sN --max-time 2 "$url/v1/sessions/demo/events/sse?offset=6" -H "$AUTH")
check "?offset=6 resumes at 7" test "$(sed -n 's/^id: //p' <<<"$out" | head -n 1)" = 7

# Step 6: transcript, list, terminate.
out=$(curl -s "$url/v1/sessions/demo/events?offset=0&limit=100" -H "$AUTH")
check "events page: hasMore false" grep -q '"hasMore":false}$' <<<"$out"
out=$(curl -s "$url/v1/sessions/demo/events?offset=2&limit=2" -H "$AUTH")
check "events?offset=2&limit=2: evt_3, evt_4, hasMore true" \
	grep -q '^{"events":\[{"event_id":"evt_3",.*{"event_id":"evt_4",.*"hasMore":true}$' <<<"$out"
check "sessions lists demo" grep -q '"sessionId":"demo"' <<<"$(curl -s "$url/v1/sessions" -H "$AUTH")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/sessions/demo/terminate" -H "$AUTH")
check "terminate: 204" test "$code" = 204
last=$(curl -s "$url/v1/sessions" -H "$AUTH" | sed -n 's/.*"sessionId":"demo".*"eventCount":\([0-9]*\).*/\1/p')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/v1/sessions/demo/events/sse" -H "$AUTH" -H "Last-Event-ID: $last")
check "SSE after the last event of an ended session: 204" test "$code" = 204
out=$(curl -si "$url/v1/sessions/nope/events" -H "$AUTH")
is_problem_404() {
	grep -q "^HTTP/1.1 404" <<<"$out" && grep -qi "^content-type: application/problem+json" <<<"$out" &&
		grep -q "urn:sandbox-agent:error:session_not_found" <<<"$out"
}
check "unknown session: 404 problem+json session_not_found" is_problem_404
for p in /docs /openapi.json /openapi-3.0.json; do
	check "GET $p: 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$url$p")" = 200
done

# The example script.
out=$(AGENTD_URL="$url" sh "$root/examples/curl/stream-turn.sh" 2>&1)
check "stream-turn.sh streams the delta" grep -q '#6 *item.delta *hello' <<<"$out"
check "stream-turn.sh resumes and sees the stream close after #9" grep -q 'closed by itself after event #9' <<<"$out"
check "stream-turn.sh gets 204 at the end" grep -q 'HTTP 204 (nothing left' <<<"$out"
if [ "$failed" != 0 ]; then echo "$out"; fi

# A client generated from docs/openapi-3.0.json by a mainstream generator
# (examples/generated-client), and the TypeScript examples: they need node
# and npm; their dependencies are cached outside the clone.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	gen=$(AGENTD_URL="$url" "$root/examples/generated-client/run.sh" 2>&1)
	check "generated-client: a client generated from openapi-3.0.json runs a mock turn" grep -q '^generated client: ok$' <<<"$gen"
	if ! grep -q '^generated client: ok$' <<<"$gen"; then echo "$gen"; fi
	node_examples
else
	echo "skip generated-client and the TypeScript examples: node and npm are not installed"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
