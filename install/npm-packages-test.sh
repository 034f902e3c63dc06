#!/usr/bin/env bash
# Proves that an installed agentd-sdk finds agentd in its platform package:
# makes the npm packages (npm-packages.sh) for this machine's platform from a
# local build, packs them and the SDK with `npm pack`, installs the tarballs
# into an empty project offline, and runs start() there, from ESM and from
# CommonJS, with no binaryPath, no AGENTD_BIN and no agentd on PATH.
#
#   install/npm-packages-test.sh      # AGENTD_BIN=path/to/agentd to skip the go build
#
# Needs node, npm, a built sdk-ts (npm ci && npm run build there; its npm ci
# also puts openapi-fetch in npm's cache, which the offline install uses).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-npm-packages-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "npm-packages-test: FAIL: $*" >&2; exit 1; }

os=$(node -p process.platform)
arch=$(node -p process.arch)
case "$arch" in x64) goarch=amd64 ;; *) goarch=$arch ;; esac
mkdir -p "$work/dist" "$work/app"
if [ -n "${AGENTD_BIN:-}" ]; then
	cp "$AGENTD_BIN" "$work/dist/agentd-$os-$goarch"
else
	(cd "$root" && CGO_ENABLED=0 go build -o "$work/dist/agentd-$os-$goarch" ./cmd/agentd)
fi
"$root/install/npm-packages.sh" 0.0.0-test "$work/dist" >/dev/null
for p in "cli-$os-$arch" agentd-sdk; do
	(cd "$work/dist/npm/$p" && npm pack --silent --pack-destination "$work" >/dev/null)
done

# The platform package is installed by name because it is not in the registry
# the SDK's optionalDependencies would fetch it from; `npm ls` then shows the
# SDK's own dependency on it satisfied by that copy. The other platforms'
# optional packages cannot be fetched offline, which npm tolerates.
cd "$work/app"
echo '{ "name": "app", "private": true, "type": "module" }' >package.json
npm install --offline --no-audit --no-fund --loglevel=error \
	"$work/agentd-sdk-0.0.0-test.tgz" "$work/agentd-cli-$os-$arch-0.0.0-test.tgz" >/dev/null
tree=$(npm ls --all 2>/dev/null || true)
if ! { grep -q "agentd-sdk@0.0.0-test" <<<"$tree" && grep -q "@agentd/cli-$os-$arch@0.0.0-test deduped" <<<"$tree"; }; then
	fail "the SDK's optional dependency on @agentd/cli-$os-$arch@0.0.0-test is not the installed package:
$tree"
fi
want="$work/app/node_modules/@agentd/cli-$os-$arch/bin/agentd"

# A PATH with node and nothing else, so the platform package is the only agentd.
nodedir=$(mktemp -d "$work/path.XXXXXX")
ln -s "$(command -v node)" "$nodedir/node"
run() { env -u AGENTD_BIN PATH="$nodedir" node "$@"; }
esm='import { start } from "agentd-sdk/embedded";
const agentd = await start();
const health = await agentd.health();
await agentd.dispose();
console.log(agentd.binaryPath + " " + health.status);'
cjs='const { start } = require("agentd-sdk/embedded");
start().then(async (agentd) => {
  const health = await agentd.health();
  await agentd.dispose();
  console.log(agentd.binaryPath + " " + health.status);
});'
got=$(run --input-type=module -e "$esm") || fail "start() from ESM: $got"
[ "$got" = "$want ok" ] || fail "start() from ESM ran \"$got\", want \"$want ok\""
got=$(run -e "$cjs") || fail "start() from CommonJS: $got"
[ "$got" = "$want ok" ] || fail "start() from CommonJS ran \"$got\", want \"$want ok\""
echo "npm-packages-test: ok: start() without binaryPath or AGENTD_BIN ran @agentd/cli-$os-$arch's bin/agentd (ESM and CommonJS)"
