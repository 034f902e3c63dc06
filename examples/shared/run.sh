#!/usr/bin/env bash
# Compiles one TypeScript example (examples/NAME with examples/shared) with
# `tsc` against the real types of its pinned dependencies, then runs one of
# the compiled files with node:
#
#   AGENTD_URL=… AGENTD_TOKEN=… examples/shared/run.sh e2b shared/local.js
#   AGENTD_BIN=path/to/agentd examples/shared/run.sh embedded embedded/main.js
#
# The dependencies are installed from NAME/package-lock.json into a cache
# outside the clone, $AGENTD_EXAMPLES_CACHE/NAME (default
# ~/.cache/agentd/examples/NAME); a warm cache downloads nothing. agentd-sdk
# is this clone's sdk-ts, which must be built (`npm ci && npm run build` in
# sdk-ts). Needs node >= 20.18 and npm.
set -euo pipefail

name=${1:?usage: run.sh NAME COMPILED-ENTRY}
entry=${2:?usage: run.sh NAME COMPILED-ENTRY}
examples=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$examples/.." && pwd)
if [ ! -f "$root/sdk-ts/dist/esm/index.js" ] || [ ! -d "$root/sdk-ts/node_modules" ]; then
	echo "run.sh: sdk-ts is not built: run \`npm ci && npm run build\` in sdk-ts first" >&2
	exit 1
fi
cache=${AGENTD_EXAMPLES_CACHE:-$HOME/.cache/agentd/examples}/$name
mkdir -p "$cache"
if ! cmp -s "$examples/$name/package-lock.json" "$cache/package-lock.json" || [ ! -x "$cache/node_modules/.bin/tsc" ]; then
	cp "$examples/$name/package.json" "$examples/$name/package-lock.json" "$cache/"
	(cd "$cache" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

# The example's layout, with a node_modules of links: the cached packages,
# and agentd-sdk pointing at this clone's sdk-ts (the lock's file: link is
# relative to the example's place in the clone, so it dangles in the cache).
work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-example-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/$name/node_modules" "$work/shared"
cp "$examples/$name"/*.ts "$examples/$name/tsconfig.json" "$examples/$name/package.json" "$work/$name/"
cp "$examples/shared"/*.ts "$examples/shared/package.json" "$work/shared/"
for m in "$cache/node_modules"/*; do
	[ "$(basename "$m")" = agentd-sdk ] || ln -s "$m" "$work/$name/node_modules/"
done
ln -s "$root/sdk-ts" "$work/$name/node_modules/agentd-sdk"
"$cache/node_modules/.bin/tsc" -p "$work/$name"
node "$work/$name/out/$entry"
