#!/usr/bin/env bash
# Cold install of agents through agentd vs `npm install` of the same
# package, from the same registry, interleaved, in one run. Both start with
# empty caches and install directories each round.
#
#   bench/install.sh BIN [AGENT...]     (default agents: amp opencode)
#   ROUNDS=3 bench/install.sh bin/agentd amp
#
# Prints per-round seconds and the median ratio agentd/npm (goal ≤ 0.7).
set -euo pipefail
bin=${1:?usage: bench/install.sh BIN [AGENT...]}
shift
agents=("$@")
[ ${#agents[@]} -gt 0 ] || agents=(amp opencode)
rounds=${ROUNDS:-3}
registry=${AGENTD_NPM_REGISTRY:-${npm_config_registry:-https://registry.npmjs.org}}

# The package npm would need for the same agent (linux-x64 builds, the
# versions agentd pins).
npm_pkg() {
	case $1 in
	claude) echo "@anthropic-ai/claude-code-linux-x64@2.1.330" ;;
	codex) echo "@openai/codex@0.169.0-linux-x64" ;;
	opencode) echo "opencode-linux-x64@1.18.34" ;;
	amp) echo "@ampcode/cli-linux-x64@0.0.1790142911-g7618fb" ;;
	*) echo "bench/install.sh: unknown agent $1" >&2; exit 2 ;;
	esac
}

now() { date +%s.%N; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '%-9s %5s %10s %10s %7s\n' agent round agentd_s npm_s ratio
for agent in "${agents[@]}"; do
	pkg=$(npm_pkg "$agent")
	ratios=()
	for r in $(seq 1 "$rounds"); do
		rm -rf "${work:?}"/*
		t0=$(now)
		AGENTD_NPM_REGISTRY=$registry "$bin" install-agent "$agent" --data-dir "$work/agentd" >/dev/null 2>&1
		t1=$(now)
		npm install --silent --no-audit --no-fund --ignore-scripts --registry "$registry" \
			--cache "$work/npm-cache" --prefix "$work/npm" "$pkg" >/dev/null 2>&1
		t2=$(now)
		a=$(echo "$t1 - $t0" | bc -l)
		n=$(echo "$t2 - $t1" | bc -l)
		ratio=$(echo "$a / $n" | bc -l)
		ratios+=("$ratio")
		printf '%-9s %5d %10.2f %10.2f %7.2f\n' "$agent" "$r" "$a" "$n" "$ratio"
	done
	printf '%-9s median ratio agentd/npm: %.2f\n' "$agent" "$(printf '%s\n' "${ratios[@]}" | median)"
done
