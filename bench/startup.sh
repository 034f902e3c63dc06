#!/usr/bin/env bash
# Startup benchmark: exec -> first 200 from GET /v1/health, and idle RSS.
#
#   bench/startup.sh BINARY [RUNS]
#
# Runs BINARY ("agentd server --no-token" on a free port with a fresh temp
# data dir) RUNS times (default 20, or $RUNS), interleaved with a baseline:
# a static Go hello-HTTP server built from bench/baseline/main.go into a
# temp dir. Each run polls /v1/health with curl in a tight loop; the time is
# from just before the fork to curl's first 200. RSS is VmRSS of the server
# when it first answers and after $IDLE_WAIT seconds (default 1) of idling.
#
# Every curl is a fork+exec, so the poll loop's own cost is in the startup
# figure; it is measured too ("poll floor": one probe of a running server)
# and subtracted in the "net" column. POLL=tcp probes over bash's /dev/tcp
# instead, forking nothing, for a finer figure where fork+exec is slow.
# Figures are reported as ratios against the baseline measured in the same
# run. Needs bash >= 5, go, and curl unless POLL=tcp.
set -euo pipefail

usage() {
	echo "usage: $0 BINARY [RUNS]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
bin=$1
runs=${2:-${RUNS:-20}}
idle_wait=${IDLE_WAIT:-1}
poll=${POLL:-curl}
case $poll in curl | tcp) ;; *) echo "POLL must be curl or tcp" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 2; }
case $runs in '' | *[!0-9]*) usage ;; esac
[ "$runs" -gt 0 ] || usage
if [ "$poll" = curl ] && ! command -v curl >/dev/null; then
	echo "curl not found" >&2
	exit 2
fi
[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "needs bash >= 5 (EPOCHREALTIME)" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/agentd-startup.XXXXXX")
server_pid=

cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building baseline from bench/baseline ..." >&2
(cd "$here/.." && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/baseline" ./bench/baseline)

# now_us prints the wall clock in microseconds without forking.
now_us() {
	local t=${EPOCHREALTIME//[.,]/}
	echo "${t#0}"
}

# free_port prints a port on which nothing listens on 127.0.0.1.
free_port() {
	local p
	while :; do
		p=$((30000 + (RANDOM * 32768 + RANDOM) % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# rss_kb PID [FIELD] prints a /proc/PID/status memory field (default
# VmRSS) in KB. RssAnon is the process's own memory; the rest of VmRSS is
# mostly pages of the executable (RssFile), shared and reclaimable.
rss_kb() {
	local key value _ field=${2:-VmRSS}
	while read -r key value _; do
		if [ "$key" = "$field:" ]; then
			echo "$value"
			return
		fi
	done <"/proc/$1/status"
	echo 0
}

# health PORT sets code to the status of GET /v1/health ("000": no answer).
# POLL=curl (default) runs curl each time; POLL=tcp speaks HTTP/1.0 over
# bash's /dev/tcp, which forks nothing and so resolves much finer where
# fork+exec is slow.
health() {
	if [ "$poll" = tcp ]; then
		code=000
		if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
			printf 'GET /v1/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 || true
			read -r -t 1 _ code _ <&3 || code=000
			exec 3<&-
		fi
		return
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/v1/health" 2>/dev/null) || true
}

# run_once NAME: starts the server, waits for its first 200, records
# "startup_us ready_rss_kb idle_rss_kb idle_anon_kb" in $tmp/NAME.txt and
# stops it.
run_once() {
	local name=$1 port start end deadline ready_rss idle_rss idle_anon code
	port=$(free_port)
	start=$(now_us)
	case $name in
	agentd) "$bin" server --no-token --host 127.0.0.1 --port "$port" --data-dir "$tmp/data.$port" >"$tmp/$name.log" 2>&1 & ;;
	baseline) "$tmp/baseline" "$port" >"$tmp/$name.log" 2>&1 & ;;
	esac
	server_pid=$!
	deadline=$((start + 10000000))
	while health "$port" && [ "$code" != 200 ]; do
		if ! kill -0 "$server_pid" 2>/dev/null || [ "$(now_us)" -gt "$deadline" ]; then
			echo "$name did not answer on port $port; its log:" >&2
			cat "$tmp/$name.log" >&2
			exit 1
		fi
	done
	end=$(now_us)
	ready_rss=$(rss_kb "$server_pid")
	sleep "$idle_wait"
	idle_rss=$(rss_kb "$server_pid")
	idle_anon=$(rss_kb "$server_pid" RssAnon)
	if [ "$name" = baseline ] && [ ! -s "$tmp/curl.txt" ]; then
		# The poll loop's floor: probes of a server that is up.
		local i s
		for i in $(seq 1 "$runs"); do
			s=$(now_us)
			health "$port"
			[ "$code" = 200 ] || { echo "baseline stopped answering" >&2; exit 1; }
			echo $(($(now_us) - s)) >>"$tmp/curl.txt"
			: "$i"
		done
	fi
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	rm -rf "$tmp/data.$port"
	echo "$((end - start)) $ready_rss $idle_rss $idle_anon" >>"$tmp/$name.txt"
}

# summary FILE COLUMN: prints "median p90" of a column (nearest-rank p90).
summary() {
	cut -d' ' -f"$2" "$1" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			i = int(0.9 * NR); if (i < 0.9 * NR) i++
			print med, v[i]
		}'
}

echo "running $runs x agentd ($bin) and $runs x baseline, interleaved ..." >&2
for i in $(seq 1 "$runs"); do
	run_once agentd
	run_once baseline
	printf '.' >&2
	: "$i"
done
echo >&2

read -r a_med a_p90 < <(summary "$tmp/agentd.txt" 1)
read -r b_med b_p90 < <(summary "$tmp/baseline.txt" 1)
read -r c_med c_p90 < <(summary "$tmp/curl.txt" 1)
read -r a_ready _ < <(summary "$tmp/agentd.txt" 2)
read -r b_ready _ < <(summary "$tmp/baseline.txt" 2)
read -r a_idle _ < <(summary "$tmp/agentd.txt" 3)
read -r b_idle _ < <(summary "$tmp/baseline.txt" 3)
read -r a_anon _ < <(summary "$tmp/agentd.txt" 4)
read -r b_anon _ < <(summary "$tmp/baseline.txt" 4)
a_size=$(wc -c <"$bin")
b_size=$(wc -c <"$tmp/baseline")

awk -v am="$a_med" -v ap="$a_p90" -v bm="$b_med" -v bp="$b_p90" -v cm="$c_med" -v cp="$c_p90" \
	-v ar="$a_ready" -v br="$b_ready" -v ai="$a_idle" -v bi="$b_idle" -v aa="$a_anon" -v ba="$b_anon" \
	-v as="$a_size" -v bs="$b_size" -v n="$runs" -v w="$idle_wait" -v poll="$poll" '
function ms(us) { return sprintf("%.1f", us / 1000) }
function mb(kb) { return sprintf("%.1f", kb / 1024) }
function net(us) { v = us - cm; return v < 0 ? 0 : v }
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
BEGIN {
	printf "startup: exec -> first 200 from /v1/health, %d runs each, POLL=%s (ms)\n", n, poll
	printf "%-28s %10s %10s %10s\n", "", "agentd", "baseline", "ratio"
	printf "%-28s %10s %10s %10s\n", "median", ms(am), ms(bm), ratio(am, bm)
	printf "%-28s %10s %10s %10s\n", "p90", ms(ap), ms(bp), ratio(ap, bp)
	printf "%-28s %10s %10s %10s\n", "median net of poll floor", ms(net(am)), ms(net(bm)), ratio(net(am), net(bm))
	printf "%-28s %10s (p90 %s)\n", "poll floor (median)", ms(cm), ms(cp)
	printf "\nmemory: VmRSS, median of %d runs (MB)\n", n
	printf "%-28s %10s %10s %10s\n", "at first 200", mb(ar), mb(br), ratio(ar, br)
	printf "%-28s %10s %10s %10s\n", "idle after " w "s", mb(ai), mb(bi), ratio(ai, bi)
	printf "%-28s %10s %10s %10s\n", "  of which RssAnon", mb(aa), mb(ba), ratio(aa, ba)
	printf "\n%-28s %10.1f %10.1f %10s\n", "binary size (MB)", as / 1048576, bs / 1048576, ratio(as, bs)
	printf "\ngoals: median startup <= 10 ms (%s), idle RSS <= 12 MB (%s)\n",
		(am <= 10000 ? "met" : "not met"), (ai <= 12 * 1024 ? "met" : "not met")
}'
