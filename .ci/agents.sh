#!/usr/bin/env bash
# Installs the real agent CLIs the end-to-end tests drive, at the versions
# the adapters were proven with, into a cache outside the clone. Idempotent:
# a warm cache downloads nothing. Tests that need an agent skip, saying so,
# when its binary is missing.
set -euo pipefail

prefix="${AGENTD_AGENT_CACHE:-$HOME/.cache/agentd/npm}"
mkdir -p "$prefix"

# package@version  binary-inside-node_modules
agents=(
	"@anthropic-ai/claude-code-linux-x64@2.1.330 @anthropic-ai/claude-code-linux-x64/claude"
	"@openai/codex@0.169.0-linux-x64 @openai/codex/vendor/x86_64-unknown-linux-musl/bin/codex"
	"opencode-linux-x64@1.18.34 opencode-linux-x64/bin/opencode"
	"@ampcode/cli-linux-x64@0.0.1790142911-g7618fb @ampcode/cli-linux-x64/amp"
)

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
	echo "agents.sh: pinned agent builds are linux-x64; skipping on $(uname -s)-$(uname -m)" >&2
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi

missing=()
for entry in "${agents[@]}"; do
	read -r pkg bin <<<"$entry"
	if [ ! -x "$prefix/node_modules/$bin" ]; then
		missing+=("$pkg")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "agents.sh: all agents cached in $prefix"
	exit 0
fi
echo "agents.sh: installing ${missing[*]} into $prefix"
npm install --no-audit --no-fund --ignore-scripts --prefix "$prefix" "${missing[@]}"
