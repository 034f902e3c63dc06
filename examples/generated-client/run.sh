#!/usr/bin/env bash
# Generates a TypeScript client from docs/openapi-3.0.json with a pinned
# @hey-api/openapi-ts, compiles it with main.ts and runs it against a daemon:
#
#   AGENTD_URL=http://127.0.0.1:2468 AGENTD_TOKEN=… examples/generated-client/run.sh
#
# The generator is installed from the npm registry (package-lock.json here)
# into a cache outside the clone, $AGENTD_GENERATOR_CACHE (default
# ~/.cache/agentd/generated-client); a warm cache downloads nothing. Needs
# node >= 20.19 and npm.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${AGENTD_GENERATOR_CACHE:-$HOME/.cache/agentd/generated-client}
mkdir -p "$cache"
if ! cmp -s "$here/package-lock.json" "$cache/package-lock.json" || [ ! -x "$cache/node_modules/.bin/openapi-ts" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$cache/"
	(cd "$cache" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-generated-client.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/main.ts" "$here/tsconfig.json" "$work/"
if ! "$cache/node_modules/.bin/openapi-ts" -i "$root/docs/openapi-3.0.json" -o "$work/gen" -c @hey-api/client-fetch >"$work/generate.log" 2>&1; then
	cat "$work/generate.log" >&2
	echo "run.sh: the generator failed on docs/openapi-3.0.json" >&2
	exit 1
fi
"$cache/node_modules/.bin/tsc" -p "$work/tsconfig.json"
node "$work/out/main.js"
