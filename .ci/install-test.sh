#!/usr/bin/env bash
# shellcheck disable=SC2016 # the checks are eval'd on purpose: their $vars expand late
# Tests install/install.sh against a fake release served on loopback by
# python3's http.server (or a few lines of Go): no network, ~12 s. The "binaries" are tiny
# shell scripts that print their version and platform, so every platform's
# file can be installed and run here.
#
# Covers: the curl | sh one-liner; OS/arch detection for linux and darwin ×
# amd64 and arm64 (and their aliases) through a fake uname; unknown OS and
# arch; AGENTD_VERSION (with and without the v, and an unknown tag);
# idempotence (no second download); upgrade in place; wrong checksum,
# missing and malformed entries and a missing checksums.txt, each refused
# with nothing installed or changed; wget when curl is absent; a BusyBox
# (Alpine-like) userland; no downloader or no sha256 tool; the ~/.local/bin
# fallback for a non-root user; an unwritable install dir; never calling
# sudo; no temp files left behind; shellcheck.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
script="$root/install/install.sh"
passed=0
failed=0
skipped=0

work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-install-test.XXXXXX")
chmod 755 "$work"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }

# ---- the fake release layout -------------------------------------------
srv="$work/srv"
platforms="linux-amd64 linux-arm64 darwin-amd64 darwin-arm64"

# release TAG [DIR]: four fake binaries and their checksums.txt under srv/DIR.
release() {
	local tag=$1 dir=${2:-$1} p
	mkdir -p "$srv/$dir"
	for p in $platforms; do
		printf '#!/bin/sh\n[ "${1:-}" = version ] && echo "agentd %s (%s)"\nexit 0\n' "$tag" "$p" >"$srv/$dir/agentd-$p"
	done
	(cd "$srv/$dir" && sha256sum agentd-* >checksums.txt)
}
release v1.3.0 latest
release v1.2.3
# A release whose checksums do not match its binaries.
release v0.9.0 v0.9.0-badsum
for p in $platforms; do echo "tampered" >>"$srv/v0.9.0-badsum/agentd-$p"; done
# A release whose checksums.txt lists no linux-amd64 binary.
release v0.9.1 v0.9.1-noentry
sed -i '/agentd-linux-amd64$/d' "$srv/v0.9.1-noentry/checksums.txt"
# A release whose entry is malformed (a short hash).
release v0.9.2 v0.9.2-malformed
sed -i 's/^\([0-9a-f]\{60\}\)[0-9a-f]\{4\}\(  agentd-linux-amd64\)$/\1\2/' "$srv/v0.9.2-malformed/checksums.txt"
# A release without checksums.txt at all.
release v0.9.3 v0.9.3-nosums
rm "$srv/v0.9.3-nosums/checksums.txt"
cp "$script" "$srv/install.sh"

# ---- the local HTTP server -----------------------------------------------
# python3's http.server, or (without python3, or with INSTALL_TEST_SERVER=go)
# a few lines of Go; either logs one "GET /path " line per request.
serve_go() {
	mkdir -p "$work/gosrv"
	cat >"$work/gosrv/main.go" <<'GO'
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("Serving HTTP on 127.0.0.1 port %d\n", ln.Addr().(*net.TCPAddr).Port)
	files := http.FileServer(http.Dir(os.Args[1]))
	panic(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(os.Stderr, "\"%s %s HTTP/1.1\"\n", r.Method, r.URL.Path)
		files.ServeHTTP(w, r)
	})))
}
GO
	(cd "$work/gosrv" && GOFLAGS='' GO111MODULE=off go build -o server main.go) || return 1
	exec "$work/gosrv/server" "$srv"
}
if [ "${INSTALL_TEST_SERVER:-}" != go ] && command -v python3 >/dev/null 2>&1; then
	(cd "$srv" && exec python3 -u -m http.server 0 --bind 127.0.0.1) >"$work/server.out" 2>"$work/server.log" &
elif command -v go >/dev/null 2>&1; then
	serve_go >"$work/server.out" 2>"$work/server.log" &
else
	echo "install-test: python3 or go is needed to serve the fake release" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
server_pid=$!
port=""
for _ in $(seq 1 300); do
	port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$work/server.out" | head -n1)
	[ -n "$port" ] && break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "install-test: the local HTTP server did not start" >&2
	cat "$work/server.out" "$work/server.log" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
base="http://127.0.0.1:$port"
echo "install-test: fake release at $base"

# ---- helpers ----------------------------------------------------------------
# fake_uname OS ARCH: a directory whose uname prints OS for -s and ARCH for -m.
fake_uname() {
	local d="$work/uname-$1-$2"
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		printf '#!/bin/sh\ncase "$1" in -s) echo %s ;; -m) echo %s ;; *) exit 1 ;; esac\n' "$1" "$2" >"$d/uname"
		chmod +x "$d/uname"
	fi
	echo "$d"
}

# A sudo that records being called; install.sh must never call it.
mkdir -p "$work/nosudo"
printf '#!/bin/sh\necho "sudo $*" >>"%s/sudo-called"\nexit 1\n' "$work" >"$work/nosudo/sudo"
chmod +x "$work/nosudo/sudo"

mkdir -p "$work/tmp"
# run [VAR=value...]: runs install.sh with dash (or sh) in a clean
# environment plus the given variables; out= holds its output, rc= its status.
shell=$(command -v dash || command -v sh)
out="" rc=0
run() {
	out=$(env -i HOME="$work/home" TMPDIR="$work/tmp" PATH="$work/nosudo:/usr/local/bin:/usr/bin:/bin" \
		AGENTD_DOWNLOAD_BASE="$base" "$@" "$shell" "$script" 2>&1)
	rc=$?
}
has() { grep -qF -- "$1" <<<"$out"; }
downloads() { grep -c "GET /$1 " "$work/server.log" || true; }
tmp_clean() { [ -z "$(ls -A "$work/tmp")" ]; }
# no_leftovers DIR: nothing but (at most) the agentd binary in DIR.
no_leftovers() { [ -z "$(find "$1" -mindepth 1 ! -name agentd 2>/dev/null)" ]; }
check() { # check NAME CONDITION...
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; printf '     output: %s\n' "${out//$'\n'/$'\n'             }"; fi
}

# ---- tests ----------------------------------------------------------------
host_os=$(uname -s | tr '[:upper:]' '[:lower:]')
host_arch=$(uname -m)
case "$host_arch" in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; esac

# 1. The one-liner: curl … | sh, latest release, detected platform.
d="$work/i1"
out=$(cd "$work" && env -i HOME="$work/home" TMPDIR="$work/tmp" PATH="$work/nosudo:/usr/local/bin:/usr/bin:/bin" \
	AGENTD_DOWNLOAD_BASE="$base" AGENTD_INSTALL_DIR="$d" sh -c "curl -fsSL $base/install.sh | $shell" 2>&1)
rc=$?
check "curl | sh installs the latest release" test "$rc" = 0
check "installed binary runs and is the host's ($host_os-$host_arch)" \
	test "$("$d/agentd" version 2>&1)" = "agentd v1.3.0 ($host_os-$host_arch)"
check "installed binary is executable" test -x "$d/agentd"
check "PATH hint printed for a dir not on PATH" has "export PATH=\"$d:\$PATH\""
check "no temp files or staged copies left" eval 'tmp_clean && no_leftovers "$d"'

# 2. Idempotent: the same release again changes nothing, downloads no binary.
before=$(downloads "latest/agentd-$host_os-$host_arch")
inode=$(stat -c %i "$d/agentd")
run AGENTD_INSTALL_DIR="$d"
check "second run exits 0" test "$rc" = 0
check "second run says it is already installed" has "agentd v1.3.0 ($host_os-$host_arch) is already installed"
check "second run does not download the binary again" test "$(downloads "latest/agentd-$host_os-$host_arch")" = "$before"
check "second run leaves the binary untouched" test "$(stat -c %i "$d/agentd")" = "$inode"

# 3. AGENTD_VERSION picks the release path; replacing is in place.
run AGENTD_INSTALL_DIR="$d" AGENTD_VERSION=v1.2.3
check "AGENTD_VERSION=v1.2.3 installs v1.2.3" eval 'test "$rc" = 0 && test "$("$d/agentd" version)" = "agentd v1.2.3 ($host_os-$host_arch)"'
check "AGENTD_VERSION downloads from /v1.2.3/" test "$(downloads "v1.2.3/agentd-$host_os-$host_arch")" = 1
run AGENTD_INSTALL_DIR="$d" AGENTD_VERSION=1.2.3
check "AGENTD_VERSION=1.2.3 is read as v1.2.3 (already installed)" has "is already installed"
run AGENTD_INSTALL_DIR="$d" AGENTD_VERSION=latest
check "AGENTD_VERSION=latest upgrades back" eval 'test "$rc" = 0 && test "$("$d/agentd" version)" = "agentd v1.3.0 ($host_os-$host_arch)"'
check "upgrades leave no staged copies" eval 'tmp_clean && no_leftovers "$d"'

run AGENTD_INSTALL_DIR="$work/i-nover" AGENTD_VERSION=v7.7.7
check "unknown version: non-zero, says so, installs nothing" \
	eval 'test "$rc" != 0 && has "could not download" && has "v7.7.7" && test ! -e "$work/i-nover/agentd"'
run AGENTD_INSTALL_DIR="$work/i-badver" AGENTD_VERSION='../etc'
check "a version that is not a tag is refused" eval 'test "$rc" != 0 && has "not a release tag" && test ! -e "$work/i-badver"'

# 4. Checksums: every failure refuses and leaves nothing installed.
linux_amd64=$(fake_uname Linux x86_64)
run PATH="$linux_amd64:$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-bad" AGENTD_VERSION=v0.9.0-badsum
check "wrong checksum: refused" eval 'test "$rc" != 0 && has "checksum mismatch"'
check "wrong checksum: nothing installed" eval 'test ! -e "$work/i-bad/agentd" && no_leftovers "$work/i-bad" && tmp_clean'
cp "$d/agentd" "$work/before"
run PATH="$linux_amd64:$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$d" AGENTD_VERSION=v0.9.0-badsum
check "wrong checksum over an installed agentd: refused, old binary kept" \
	eval 'test "$rc" != 0 && cmp -s "$work/before" "$d/agentd" && no_leftovers "$d"'
run PATH="$linux_amd64:$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-noent" AGENTD_VERSION=v0.9.1-noentry
check "missing checksum entry: refused, nothing installed" \
	eval 'test "$rc" != 0 && has "no valid entry for agentd-linux-amd64" && test ! -e "$work/i-noent/agentd"'
check "missing checksum entry: the binary is not even downloaded" test "$(downloads v0.9.1-noentry/agentd-linux-amd64)" = 0
run PATH="$linux_amd64:$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-mal" AGENTD_VERSION=v0.9.2-malformed
check "malformed checksum entry: refused, nothing installed" \
	eval 'test "$rc" != 0 && has "no valid entry" && test ! -e "$work/i-mal/agentd"'
run PATH="$linux_amd64:$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-nosum" AGENTD_VERSION=v0.9.3-nosums
check "no checksums.txt: refused, nothing installed" \
	eval 'test "$rc" != 0 && has "checksums.txt" && test ! -e "$work/i-nosum/agentd"'

# 5. Platforms: all four release names, and the names uname uses for them.
for case in "Linux x86_64 linux-amd64" "Linux amd64 linux-amd64" "Linux aarch64 linux-arm64" "Linux arm64 linux-arm64" \
	"Darwin x86_64 darwin-amd64" "Darwin arm64 darwin-arm64"; do
	read -r os arch want <<<"$case"
	dir="$work/p-$os-$arch"
	run PATH="$(fake_uname "$os" "$arch"):$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$dir"
	check "uname $os/$arch installs agentd-$want" eval 'test "$rc" = 0 && test "$("$dir/agentd" version)" = "agentd v1.3.0 ($want)"'
done

# 6. Unknown platforms: a clear message, non-zero, nothing downloaded.
n=$(wc -l <"$work/server.log")
run PATH="$(fake_uname Linux mips):$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-mips"
check "unknown arch (mips): non-zero with a clear message" \
	eval 'test "$rc" != 0 && has "unsupported CPU architecture '"'"'mips'"'"'" && has "amd64 (x86_64) and arm64 (aarch64)"'
check "unknown arch: nothing installed" test ! -e "$work/i-mips"
run PATH="$(fake_uname Linux armv7l):$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-arm7"
check "unknown arch (armv7l): refused" eval 'test "$rc" != 0 && has "armv7l"'
run PATH="$(fake_uname FreeBSD amd64):$work/nosudo:/usr/bin:/bin" AGENTD_INSTALL_DIR="$work/i-bsd"
check "unknown OS (FreeBSD): non-zero with a clear message" \
	eval 'test "$rc" != 0 && has "unsupported operating system '"'"'FreeBSD'"'"'" && test ! -e "$work/i-bsd"'
check "unknown platforms download nothing" test "$(wc -l <"$work/server.log")" = "$n"

# 7. wget when curl is missing: a PATH of links to everything but curl.
if command -v wget >/dev/null 2>&1; then
	nc="$work/nocurl"
	mkdir -p "$nc"
	for tool in awk cat chmod cp grep id mkdir mktemp mv rm sha256sum uname wget; do
		ln -sf "$(command -v "$tool")" "$nc/$tool"
	done
	run PATH="$work/nosudo:$nc" AGENTD_INSTALL_DIR="$work/i-wget"
	check "wget is used when curl is absent" eval 'test "$rc" = 0 && test -x "$work/i-wget/agentd"'
	run PATH="$work/nosudo:$nc" AGENTD_INSTALL_DIR="$work/i-wget-bad" AGENTD_VERSION=v0.9.0-badsum
	check "wget: wrong checksum refused" eval 'test "$rc" != 0 && has "checksum mismatch" && test ! -e "$work/i-wget-bad/agentd"'
else
	skip "wget path (wget not installed)"
fi
# An Alpine-like userland: BusyBox's sh, wget, sha256sum, awk… and nothing else.
if command -v busybox >/dev/null 2>&1; then
	bb="$work/busybox"
	mkdir -p "$bb"
	for tool in sh awk cat chmod cp grep id mkdir mktemp mv rm sha256sum uname wget; do
		ln -sf "$(command -v busybox)" "$bb/$tool"
	done
	out=$(env -i HOME="$work/home" TMPDIR="$work/tmp" PATH="$work/nosudo:$bb" AGENTD_DOWNLOAD_BASE="$base" \
		AGENTD_INSTALL_DIR="$work/i-bb" "$bb/sh" "$script" 2>&1)
	rc=$?
	check "BusyBox sh + wget (Alpine-like) installs" eval 'test "$rc" = 0 && test "$("$work/i-bb/agentd" version)" = "agentd v1.3.0 ($host_os-$host_arch)"'
	out=$(env -i HOME="$work/home" TMPDIR="$work/tmp" PATH="$work/nosudo:$bb" AGENTD_DOWNLOAD_BASE="$base" \
		AGENTD_INSTALL_DIR="$work/i-bb-bad" AGENTD_VERSION=v0.9.0-badsum "$bb/sh" "$script" 2>&1)
	rc=$?
	check "BusyBox: wrong checksum refused" eval 'test "$rc" != 0 && has "checksum mismatch" && test ! -e "$work/i-bb-bad/agentd"'
else
	skip "BusyBox userland (busybox not installed)"
fi
# Neither downloader, nor a sha256 tool: clear messages, nothing installed.
bare="$work/bare"
mkdir -p "$bare"
for tool in awk cat chmod cp id mkdir mktemp mv rm uname; do ln -sf "$(command -v "$tool")" "$bare/$tool"; done
run PATH="$work/nosudo:$bare" AGENTD_INSTALL_DIR="$work/i-bare"
check "no curl or wget: clear message" eval 'test "$rc" != 0 && has "neither curl nor wget" && test ! -e "$work/i-bare/agentd"'
ln -sf "$(command -v curl)" "$bare/curl"
run PATH="$work/nosudo:$bare" AGENTD_INSTALL_DIR="$work/i-nosha"
check "no sha256 tool: refuses to install unverified" \
	eval 'test "$rc" != 0 && has "cannot be verified" && test ! -e "$work/i-nosha/agentd"'
ln -sf "$(command -v shasum)" "$bare/shasum" 2>/dev/null
if [ -x "$bare/shasum" ] && "$bare/shasum" -a 256 "$script" >/dev/null 2>&1; then
	run PATH="$work/nosudo:$bare" AGENTD_INSTALL_DIR="$work/i-shasum"
	check "shasum -a 256 is used without sha256sum" eval 'test "$rc" = 0 && test -x "$work/i-shasum/agentd"'
else
	skip "shasum path (shasum not installed)"
fi

# 8. Default directory for a non-root user, and an unwritable directory.
can_drop=""
if [ "$(id -u)" != 0 ]; then
	as_nobody() { "$@"; }
	[ -w /usr/local/bin ] || can_drop=1
elif command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	can_drop=1
fi
if [ -n "$can_drop" ]; then
	home="$work/nobody-home"
	mkdir -p "$home" "$work/nobody-tmp"
	cp "$script" "$work/install.sh"
	chmod 644 "$work/install.sh"
	if [ "$(id -u)" = 0 ]; then chown -R 65534:65534 "$home" "$work/nobody-tmp"; fi
	out=$(as_nobody env -i HOME="$home" TMPDIR="$work/nobody-tmp" PATH="$work/nosudo:/usr/bin:/bin" \
		AGENTD_DOWNLOAD_BASE="$base" "$shell" "$work/install.sh" 2>&1)
	rc=$?
	check "non-root without AGENTD_INSTALL_DIR: installs to ~/.local/bin" \
		eval 'test "$rc" = 0 && test -x "$home/.local/bin/agentd" && has "export PATH=\"$home/.local/bin:\$PATH\""'
	mkdir -p "$work/ro"
	chmod 555 "$work/ro"
	before=$(downloads "latest/agentd-$host_os-$host_arch")
	out=$(as_nobody env -i HOME="$home" TMPDIR="$work/nobody-tmp" PATH="$work/nosudo:/usr/bin:/bin" \
		AGENTD_DOWNLOAD_BASE="$base" AGENTD_INSTALL_DIR="$work/ro" "$shell" "$work/install.sh" 2>&1)
	rc=$?
	check "unwritable AGENTD_INSTALL_DIR: clear message, no sudo" \
		eval 'test "$rc" != 0 && has "is not writable" && test ! -e "$work/ro/agentd"'
	check "unwritable AGENTD_INSTALL_DIR: refused before downloading the binary" \
		test "$(downloads "latest/agentd-$host_os-$host_arch")" = "$before"
else
	skip "non-root default dir and unwritable dir (cannot drop privileges here)"
fi
check "sudo was never called" test ! -e "$work/sudo-called"

# 9. shellcheck.
if command -v shellcheck >/dev/null 2>&1; then
	if sc=$(shellcheck -s sh "$script" 2>&1); then
		pass "shellcheck -s sh install/install.sh"
	else
		fail "shellcheck -s sh install/install.sh"
		echo "$sc"
	fi
else
	skip "shellcheck (not installed; apt-get install -y shellcheck)"
fi

if [ "$skipped" -gt 0 ]; then
	echo "install-test: $passed passed, $failed failed, $skipped skipped"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
