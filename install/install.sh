#!/bin/sh
# Installs agentd, the in-sandbox coding-agent daemon.
#
#   curl -fsSL https://github.com/agentd-dev/agentd/releases/latest/download/install.sh | sh
#
# What it does, in order:
#   1. picks the release file for this machine: agentd-<os>-<arch> with os
#      linux or darwin and arch amd64 or arm64 (anything else stops here);
#   2. downloads the release's checksums.txt and the binary to a temporary
#      directory, with curl or wget;
#   3. checks the binary's sha256 against its checksums.txt entry, and
#      refuses to install when the entry is missing or does not match;
#   4. moves the binary into place in one rename, so the target is either
#      the old binary or the new one, never a partial file.
# It never calls sudo. Running it again when that same binary is already
# installed changes nothing and exits 0.
#
# Settings (environment variables, all optional):
#   AGENTD_VERSION        release tag to install, e.g. v0.1.0 (default: the
#                         latest release; "0.1.0" is read as "v0.1.0")
#   AGENTD_INSTALL_DIR    where to put the binary (default: /usr/local/bin if
#                         writable, else ~/.local/bin)
#   AGENTD_DOWNLOAD_BASE  a mirror holding <version>/agentd-<os>-<arch> and
#                         <version>/checksums.txt, where <version> is the tag
#                         or "latest" (default: the GitHub releases of
#                         agentd-dev/agentd)
#
# The script is POSIX sh and wrapped in main(), so a download cut short
# runs nothing.

set -eu

GITHUB_RELEASES="https://github.com/agentd-dev/agentd/releases"

say() {
	printf 'agentd-install: %s\n' "$*"
}

die() {
	printf 'agentd-install: error: %s\n' "$*" >&2
	exit 1
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# detect_os prints linux or darwin, or stops with the name it does not know.
detect_os() {
	os=$(uname -s 2>/dev/null) || die "cannot run uname -s to detect the operating system"
	case "$os" in
	Linux | linux) echo linux ;;
	Darwin | darwin) echo darwin ;;
	*) die "unsupported operating system '$os': agentd is released for linux and darwin (macOS) only" ;;
	esac
}

# detect_arch prints amd64 or arm64, or stops with the name it does not know.
detect_arch() {
	arch=$(uname -m 2>/dev/null) || die "cannot run uname -m to detect the CPU architecture"
	case "$arch" in
	x86_64 | amd64 | x64) arch=amd64 ;;
	aarch64 | arm64 | armv8*) arch=arm64 ;;
	*) die "unsupported CPU architecture '$arch': agentd is released for amd64 (x86_64) and arm64 (aarch64) only" ;;
	esac
	# A shell translated by Rosetta 2 reports x86_64 on Apple silicon; the
	# native build is the one to install there.
	if [ "$1" = darwin ] && [ "$arch" = amd64 ] &&
		[ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
		arch=arm64
	fi
	echo "$arch"
}

# download URL FILE fetches URL into FILE with curl or wget, failing on any
# HTTP error. https URLs may not be redirected to plain http.
download() {
	if have curl; then
		case "$1" in
		https://*) curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" "$1" ;;
		*) curl -fsSL --retry 3 -o "$2" "$1" ;;
		esac
	elif have wget; then
		# GNU wget can refuse a redirect to plain http; BusyBox wget (Alpine)
		# has no such option.
		case "$1" in
		https://*) if wget --help 2>&1 | grep -q -- --https-only; then
			wget -q --https-only -O "$2" "$1"
		else
			wget -q -O "$2" "$1"
		fi ;;
		*) wget -q -O "$2" "$1" ;;
		esac
	else
		die "neither curl nor wget is installed; install one of them and run this again"
	fi
}

# sha256 FILE prints the file's sha256 in hex.
sha256() {
	if have sha256sum; then
		sha256sum "$1" | awk '{print $1}'
	elif have shasum; then
		shasum -a 256 "$1" | awk '{print $1}'
	else
		die "neither sha256sum nor shasum is installed, so the download cannot be verified; install one of them (coreutils or perl) and run this again"
	fi
}

# expected_sha256 CHECKSUMS NAME prints NAME's sha256 from a sha256sum-style
# file ("<hex>  <name>", or "<hex> *<name>"), or nothing when it has no
# single well-formed entry for NAME.
expected_sha256() {
	awk -v name="$2" '
		($2 == name || $2 == "*" name) && NF == 2 { n++; sum = $1 }
		END { if (n == 1 && sum ~ /^[0-9a-fA-F]+$/ && length(sum) == 64) print tolower(sum) }
	' "$1"
}

# pick_dir prints the directory to install into.
pick_dir() {
	if [ -n "${AGENTD_INSTALL_DIR:-}" ]; then
		echo "$AGENTD_INSTALL_DIR"
	elif [ -d /usr/local/bin ] && [ -w /usr/local/bin ]; then
		echo /usr/local/bin
	elif [ "$(id -u 2>/dev/null || echo 1)" = 0 ]; then
		echo /usr/local/bin
	else
		[ -n "${HOME:-}" ] || die "HOME is not set; set AGENTD_INSTALL_DIR to choose where to install"
		echo "$HOME/.local/bin"
	fi
}

tmp=""
staged=""
cleanup() {
	if [ -n "$staged" ]; then rm -f "$staged"; fi
	if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}

main() {
	os=$(detect_os)
	arch=$(detect_arch "$os")
	asset="agentd-$os-$arch"

	version="${AGENTD_VERSION:-latest}"
	case "$version" in
	latest | v*) ;;
	[0-9]*) version="v$version" ;;
	*) die "AGENTD_VERSION='$version' is not a release tag (want e.g. v0.1.0, or latest)" ;;
	esac
	case "$version" in
	*/* | *' '*) die "AGENTD_VERSION='$version' is not a release tag" ;;
	esac

	if [ -n "${AGENTD_DOWNLOAD_BASE:-}" ]; then
		base="${AGENTD_DOWNLOAD_BASE%/}/$version"
	elif [ "$version" = latest ]; then
		base="$GITHUB_RELEASES/latest/download"
	else
		base="$GITHUB_RELEASES/download/$version"
	fi

	dir=$(pick_dir)
	target="$dir/agentd"

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	tmp=$(mktemp -d 2>/dev/null || mktemp -d -t agentd-install) || die "cannot create a temporary directory"

	say "installing $asset ($version) from $base"
	download "$base/checksums.txt" "$tmp/checksums.txt" ||
		die "could not download $base/checksums.txt (is '$version' a published release?)"
	want=$(expected_sha256 "$tmp/checksums.txt" "$asset")
	[ -n "$want" ] || die "checksums.txt of $version has no valid entry for $asset; refusing to install an unverified binary"

	if [ -f "$target" ] && [ "$(sha256 "$target")" = "$want" ]; then
		current=$("$target" version 2>/dev/null || echo "agentd $version")
		say "$current is already installed at $target; nothing to do"
		path_hint "$dir"
		return 0
	fi

	if [ -d "$dir" ] && [ ! -w "$dir" ]; then
		die "$dir is not writable; set AGENTD_INSTALL_DIR to a directory you can write (this script never uses sudo)"
	fi
	download "$base/$asset" "$tmp/$asset" || die "could not download $base/$asset"
	got=$(sha256 "$tmp/$asset")
	if [ "$got" != "$want" ]; then
		die "checksum mismatch for $asset: expected $want, got $got; refusing to install (nothing was changed)"
	fi

	if [ ! -d "$dir" ]; then
		mkdir -p "$dir" 2>/dev/null || die "cannot create $dir; set AGENTD_INSTALL_DIR to a directory you can write"
	fi
	[ -w "$dir" ] || die "$dir is not writable; set AGENTD_INSTALL_DIR to a directory you can write (this script never uses sudo)"

	# Stage next to the target so the final mv is a rename on one file
	# system, which replaces the old binary atomically. The staged copy is
	# run once (in the install directory, not in a /tmp that may be
	# mounted noexec) before it replaces anything.
	staged="$dir/.agentd.install.$$"
	cp "$tmp/$asset" "$staged" || die "cannot write to $dir"
	chmod 0755 "$staged"
	installed=$("$staged" version 2>/dev/null) ||
		die "the downloaded $asset does not run on this machine (or $dir does not allow executing files); nothing was installed"
	mv -f "$staged" "$target" || die "cannot move the new binary into $target"
	staged=""

	say "installed $installed to $target"
	path_hint "$dir"
}

# path_hint tells how to put dir on PATH when it is not there yet.
path_hint() {
	case ":${PATH:-}:" in
	*":$1:"*) ;;
	*)
		say "$1 is not on your PATH; add it with:"
		say "  export PATH=\"$1:\$PATH\""
		;;
	esac
}

main "$@"
