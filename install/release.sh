#!/usr/bin/env bash
# Builds agentd's release files: one static binary per platform, named as
# install.sh downloads them (agentd-<os>-<arch>), the installer itself, and
# checksums.txt (sha256sum format) covering all of them; then the npm
# packages of embedded mode into <out>/npm (install/npm-packages.sh).
#
#   install/release.sh [--version V] [--out DIR] [--check]
#
#   --version V  the version stamped into the binaries (api.Version, shown
#                by `agentd version` and GET /v1/health); default: git
#                describe, or "dev"
#   --out DIR    where the files go (default: dist); earlier release files
#                there (and its npm/) are replaced, nothing else is touched
#   --check      build everything a second time, with a fresh, empty Go
#                build cache in another directory, and fail unless every
#                file is byte-identical: the build is reproducible
#
# AGENTD_PLATFORMS overrides the platform list ("linux/amd64 linux/arm64
# darwin/amd64 darwin/arm64").
#
# The binaries are built with CGO_ENABLED=0 (static; the SQLite event log is
# pure Go), -trimpath (no local paths), -ldflags "-s -w -buildid=" (stripped,
# no build id). Go also records the module versions and, when built from a
# git checkout, the commit, its time and whether the tree was modified
# (`go version -m agentd-linux-amd64` shows them); all of that is a function
# of the source, so two builds of one tree are identical.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=""
out="dist"
check=""
while [ $# -gt 0 ]; do
	case "$1" in
	--version) version=${2:?--version needs a value}; shift 2 ;;
	--version=*) version=${1#--version=}; shift ;;
	--out) out=${2:?--out needs a value}; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--check) check=1; shift ;;
	-h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ -z "$version" ]; then
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
platforms=${AGENTD_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
goal=20000000 # bytes: the linux/amd64 size goal (20 MB)

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

# build DIR: every platform's binary, install.sh and checksums.txt into DIR.
build() {
	local dir=$1 p os arch
	mkdir -p "$dir"
	# Only this script's own files go: --out may name a directory with others.
	rm -f "$dir"/agentd-* "$dir/install.sh" "$dir/checksums.txt"
	for p in $platforms; do
		os=${p%/*} arch=${p#*/}
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=auto \
			-ldflags "-s -w -buildid= -X github.com/agentd-dev/agentd/api.Version=$version" \
			-o "$dir/agentd-$os-$arch" ./cmd/agentd
	done
	cp install/install.sh "$dir/install.sh"
	chmod 0755 "$dir/install.sh"
	(cd "$dir" && LC_ALL=C sha256 agentd-* install.sh >checksums.txt)
}

echo "release.sh: building agentd $version for: $platforms"
start=$SECONDS
build "$out"
echo "release.sh: built in $((SECONDS - start))s into $out/"
"$root/install/npm-packages.sh" "$version" "$out"
echo
printf '%-24s %12s %9s\n' file bytes MiB
for f in "$out"/agentd-* "$out"/install.sh; do
	size=$(wc -c <"$f")
	printf '%-24s %12d %9.2f\n' "$(basename "$f")" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')"
done
echo
cat "$out/checksums.txt"

if [ -f "$out/agentd-linux-amd64" ]; then
	size=$(wc -c <"$out/agentd-linux-amd64")
	if [ "$size" -le "$goal" ]; then
		echo "release.sh: linux/amd64 is $size bytes, within the 20 MB goal ($((goal - size)) bytes to spare)"
	else
		echo "release.sh: WARNING: linux/amd64 is $size bytes, over the 20 MB goal by $((size - goal)) bytes" >&2
	fi
fi

if [ -n "$check" ]; then
	second=$(mktemp -d "${TMPDIR:-/tmp}/agentd-release-check.XXXXXX")
	trap 'chmod -R u+w "$second" 2>/dev/null; rm -rf "$second"' EXIT
	echo
	echo "release.sh: reproducibility: building again with an empty Go build cache…"
	start=$SECONDS
	GOCACHE="$second/gocache" build "$second/out"
	echo "release.sh: second build took $((SECONDS - start))s"
	if diff <(cd "$out" && cat checksums.txt) <(cd "$second/out" && cat checksums.txt); then
		echo "release.sh: reproducible: both builds have identical sha256 for every file"
	else
		echo "release.sh: NOT reproducible: the checksums above differ between the two builds" >&2
		exit 1
	fi
fi
