#!/usr/bin/env bash
# Makes a release's npm packages for agentd-sdk's embedded mode, from the
# binaries release.sh built:
#
#   install/npm-packages.sh VERSION [DIR]        (DIR defaults to dist)
#
#   DIR/npm/cli-<os>-<arch>/   @agentd/cli-<os>-<arch>: bin/agentd, and os/cpu
#                              fields so npm installs only the one that fits;
#                              one per DIR/agentd-<os>-<arch> (Go's amd64 is
#                              npm's x64)
#   DIR/npm/agentd-sdk/        the SDK as published: sdk-ts's built files, its
#                              package.json at VERSION with the four platform
#                              packages as optionalDependencies pinned to it
#                              (needs node and a built sdk-ts; skipped, with a
#                              message, without them)
#
# `npm publish` each directory, the platform packages first. VERSION is the
# release version without its "v"; one that is not semver (a git describe of
# an untagged commit, "dev") becomes 0.0.0-dev.<it>. The source tree's
# sdk-ts/package.json does not list the platform packages: npm ci would
# reject a lock file without them, and they exist only once published.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
"" | -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
version=${1#v}
out=${2:-$root/dist}
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
if [ "$version" = dev ]; then
	version=0.0.0-dev
elif ! [[ $version =~ $semver ]]; then
	version="0.0.0-dev.$(printf '%s' "$version" | tr -c '0-9A-Za-z-' '-')"
fi

npm_arch() { # Go's GOARCH to node's process.arch
	case "$1" in
	amd64) echo x64 ;;
	*) echo "$1" ;;
	esac
}

rm -rf "$out/npm"
mkdir -p "$out/npm"
made=0
for bin in "$out"/agentd-*-*; do
	[ -f "$bin" ] || continue
	name=${bin##*/agentd-}
	os=${name%-*} arch=$(npm_arch "${name#*-}")
	dir="$out/npm/cli-$os-$arch"
	mkdir -p "$dir/bin"
	cp "$bin" "$dir/bin/agentd"
	chmod 0755 "$dir/bin/agentd"
	cat >"$dir/package.json" <<JSON
{
  "name": "@agentd/cli-$os-$arch",
  "version": "$version",
  "description": "The agentd binary for $os $arch, installed by agentd-sdk for its embedded mode",
  "license": "Apache-2.0",
  "homepage": "https://github.com/agentd-dev/agentd",
  "os": ["$os"],
  "cpu": ["$arch"],
  "files": ["bin/agentd"],
  "preferUnplugged": true
}
JSON
	echo "npm-packages.sh: $dir (@agentd/cli-$os-$arch@$version)"
	made=$((made + 1))
done
[ "$made" -gt 0 ] || { echo "npm-packages.sh: no agentd-<os>-<arch> binaries in $out (run release.sh first)" >&2; exit 1; }

sdk="$root/sdk-ts"
if ! command -v node >/dev/null 2>&1 || [ ! -f "$sdk/dist/esm/index.js" ]; then
	echo "npm-packages.sh: skipped agentd-sdk: it needs node and a built sdk-ts (npm ci && npm run build there)"
	exit 0
fi
node "$sdk/scripts/check-dist-fresh.mjs" || exit 1
mkdir -p "$out/npm/agentd-sdk"
cp -R "$sdk/dist" "$sdk/src" "$sdk/README.md" "$out/npm/agentd-sdk/"
node - "$sdk/package.json" "$out/npm/agentd-sdk/package.json" "$version" <<'JS'
const fs = require("node:fs");
const [from, to, version] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(from, "utf8"));
pkg.version = version;
pkg.optionalDependencies = Object.fromEntries(
  ["darwin-arm64", "darwin-x64", "linux-arm64", "linux-x64"].map((p) => [`@agentd/cli-${p}`, version]),
);
// The scripts build from the repository (../docs): the staged copy is built already.
delete pkg.scripts;
delete pkg.devDependencies;
fs.writeFileSync(to, JSON.stringify(pkg, null, 2) + "\n");
JS
echo "npm-packages.sh: $out/npm/agentd-sdk (agentd-sdk@$version)"
