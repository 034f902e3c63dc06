#!/usr/bin/env bash
# A fleet on one machine: several agentd daemons (own data dir, own port)
# shipping every event to one PostgreSQL, a few mock sessions on each, then
# the control plane's queries (queries.sql). Checks what it prints and exits
# non-zero on a mismatch; exits 0 saying "skip" when there is no PostgreSQL.
#
#   examples/fleet/fleet.sh                      # throwaway PostgreSQL from local binaries
#   DATABASE_URL=postgres://… examples/fleet/fleet.sh
#   AGENTD_BIN=bin/agentd DAEMONS=5 examples/fleet/fleet.sh
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
daemons=${DAEMONS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-fleet.XXXXXX")
chmod 755 "$work"
pids=() pg_started="" passed=0 failed=0
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ -n "$pg_started" ]; then as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1; fi
	rm -rf "$work"
}
trap cleanup EXIT
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
skip() { echo "skip: $*"; exit 0; }

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- one PostgreSQL -----------------------------------------------------
url=${DATABASE_URL:-}
if [ -z "$url" ]; then
	pgbin=""
	for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then pgbin=$d; break; fi
	done
	[ -n "$pgbin" ] || skip "no PostgreSQL (set DATABASE_URL, or install postgresql: apt-get install -y postgresql)"
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then skip "running as root without a postgres user to run PostgreSQL as"; fi
	command -v psql >/dev/null || skip "no psql"
	if [ "$(id -u)" = 0 ]; then chown postgres "$work"; fi
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
	as_pg "$pgbin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1 ||
		{ cat "$work/initdb.log"; echo "0 passed, 1 failed"; exit 1; }
	as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
		-o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
		{ cat "$work/pg.log"; echo "0 passed, 1 failed"; exit 1; }
	pg_started=1
	# trust auth ignores the password; it is there to show it never leaks.
	url="postgres://postgres:fleet-pw@127.0.0.1:$port/postgres?sslmode=disable"
fi
command -v psql >/dev/null || skip "no psql"
echo "database: ${url%%\?*}" | sed 's#:[^:@/]*@#:…@#'

# --- the daemons -------------------------------------------------------------
bin=${AGENTD_BIN:-}
if [ -z "$bin" ]; then
	bin="$work/agentd"
	(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/agentd) || { echo "0 passed, 1 failed"; exit 1; }
fi
urls=()
for i in $(seq 1 "$daemons"); do
	AGENTD_SINK="$url" AGENTD_SINK_DAEMON_ID="box-$i" AGENTD_PORT=0 AGENTD_DATA_DIR="$work/d$i" \
		"$bin" server --no-token 2>"$work/d$i.log" &
	pids+=($!)
done
for i in $(seq 1 "$daemons"); do
	u=""
	for _ in $(seq 1 100); do
		u=$(sed -n 's/.*msg="agentd listening" addr=\(http:[^ ]*\).*/\1/p' "$work/d$i.log")
		[ -n "$u" ] && break
		sleep 0.1
	done
	[ -n "$u" ] || { cat "$work/d$i.log"; echo "0 passed, 1 failed"; exit 1; }
	urls+=("$u")
done
echo "daemons: ${urls[*]}"

# --- mock sessions: every daemon has s1 and s2 (same ids on purpose) -------
for u in "${urls[@]}"; do
	for s in s1 s2; do
		curl -sf -X POST "$u/v1/sessions/$s" -H 'content-type: application/json' -d '{"agent":"mock"}' >/dev/null
		for msg in hello tool; do
			curl -sfN -X POST "$u/v1/sessions/$s/messages/stream" -H 'content-type: application/json' \
				-d "{\"message\":\"$msg\"}" >/dev/null
		done
	done
	curl -sf -X POST "$u/v1/sessions/s2/terminate" >/dev/null
done

# Shipping is asynchronous: wait for every backlog to drain (health says).
drained() {
	local u
	for u in "${urls[@]}"; do
		curl -sf "$u/v1/health" | grep -q '"backlog":0,' || return 1
	done
}
for _ in $(seq 1 300); do drained && break; sleep 0.1; done
check "every daemon's health shows its postgres sink with backlog 0" drained
health=$(curl -sf "${urls[0]}/v1/health")
echo "health: $health"
pw=$(sed -n 's#^postgres[a-z]*://[^:/@]*:\([^@]*\)@.*#\1#p' <<<"$url")
clean_health() { ! grep -q lastError <<<"$health" && { [ -z "$pw" ] || ! grep -qF -- "$pw" <<<"$health"; }; }
check "health shows no lastError, nor the password" clean_health
clean_logs() { [ -z "$pw" ] || ! grep -qF -- "$pw" "$work"/d*.log; }
check "no daemon logged the password" clean_logs

q() { psql "$url" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }

# Local and remote agree, event for event.
for i in $(seq 1 "$daemons"); do
	u=${urls[$((i - 1))]}
	for s in s1 s2; do
		local_n=$(curl -sf "$u/v1/sessions/$s/events?limit=100000" | grep -o '"event_id"' | wc -l)
		remote=$(q -c "SELECT count(*), count(DISTINCT sequence), min(sequence), max(sequence) FROM agentd.events WHERE daemon_id = 'box-$i' AND session_id = '$s'")
		check "box-$i/$s: $local_n local events = rows 1..$local_n in postgres" test "$remote" = "$local_n|$local_n|1|$local_n"
	done
done

# The control plane's queries.
out=$(q -F ' | ' -v daemon=box-1 -v session=s1 -f "$root/examples/fleet/queries.sql" 2>&1)
status=$?
echo "$out"
check "queries.sql runs" test "$status" = 0
check "one line per daemon, each with 2 sessions" test "$(grep -c '^box-[0-9]* | 2 | ' <<<"$out")" = "$daemons"
check "the transcript of box-1/s1 has the streamed \"hello\"" grep -q '| item.delta | hello$' <<<"$out"
check "all mock sessions: 2 per daemon" test "$(grep -c '^box-[0-9]* | s[12] | ' <<<"$out")" = "$((daemons * 2))"

# Stop one daemon: its shutdown ends s1 and ships that last event before it
# exits. Start it again: nothing is shipped twice (the cursor is on disk,
# and re-shipping would be absorbed by ON CONFLICT anyway).
kill "${pids[0]}" && wait "${pids[0]}" 2>/dev/null
last=$(q -c "SELECT type FROM agentd.events WHERE daemon_id = 'box-1' AND session_id = 's1' ORDER BY sequence DESC LIMIT 1")
check "box-1 shipped s1's session.ended on its way out" test "$last" = session.ended
before=$(q -c "SELECT count(*) FROM agentd.events")
AGENTD_SINK="$url" AGENTD_SINK_DAEMON_ID=box-1 AGENTD_PORT=0 AGENTD_DATA_DIR="$work/d1" \
	"$bin" server --no-token 2>"$work/d1b.log" &
pids[0]=$!
for _ in $(seq 1 100); do grep -q 'msg="agentd listening"' "$work/d1b.log" && break; sleep 0.1; done
u=$(sed -n 's/.*msg="agentd listening" addr=\(http:[^ ]*\).*/\1/p' "$work/d1b.log")
for _ in $(seq 1 100); do curl -sf "$u/v1/health" | grep -q '"backlog":0,' && break; sleep 0.1; done
after=$(q -c "SELECT count(*) FROM agentd.events")
dups=$(q -c "SELECT count(*) - count(DISTINCT (daemon_id, session_id, sequence)) FROM agentd.events")
check "after a restart of box-1: $before rows before, $after after, $dups doubled" test "$before|$dups" = "$after|0"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
