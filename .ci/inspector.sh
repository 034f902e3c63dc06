#!/usr/bin/env bash
# The inspector (internal/inspector): type-check and rebuild the front end,
# fail if the committed build in internal/inspector/dist drifts from its
# sources, then run its unit tests and the browser tests against a real
# daemon with the mock agent.
set -euo pipefail
cd "$(dirname "$0")/.."
web=internal/inspector/web
export npm_config_cache="${npm_config_cache:-$HOME/.cache/agentd/npm-cache}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
	echo "inspector: installing chromium" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

(cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$web" && npx --no-install tsc -p tsconfig.json)
(cd "$web" && node build.mjs)

# The build is committed so `go build` works from a clean clone without npm;
# a rebuild from the same sources must give the same bytes.
if ! git diff --quiet -- internal/inspector/dist || [ -n "$(git ls-files --others --exclude-standard -- internal/inspector/dist)" ]; then
	git status --short -- internal/inspector/dist >&2
	echo "inspector: internal/inspector/dist differs from a fresh build; run 'node build.mjs' in $web and commit the result" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/agentd" ./cmd/agentd
(cd "$web" && AGENTD_BIN="$tmp/agentd" node --test --test-concurrency=1 tests/)
echo "inspector: ok"
