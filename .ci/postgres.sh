#!/usr/bin/env bash
# Installs PostgreSQL's server binaries for the sink tests (internal/sink/pgsink)
# and the fleet example (examples/fleet), which start throwaway clusters of
# their own. Nothing is left running. Idempotent; without it those tests skip,
# saying so. The tests run PostgreSQL as the `postgres` user when run as root,
# which the Debian package creates.
set -euo pipefail

have() {
	command -v initdb >/dev/null 2>&1 && return 0
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if have && command -v psql >/dev/null 2>&1; then
	echo "postgres.sh: PostgreSQL already installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "postgres.sh: not root; install postgresql yourself (the tests skip without it)" >&2
	exit 1
fi
apt-get update -qq
# The package's own cluster is not wanted: the tests make their own.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
if command -v pg_ctlcluster >/dev/null 2>&1; then
	for v in /etc/postgresql/*/main; do
		[ -d "$v" ] || continue
		ver=$(basename "$(dirname "$v")")
		pg_ctlcluster "$ver" main stop >/dev/null 2>&1 || true
	done
fi
have || { echo "postgres.sh: initdb still missing after install" >&2; exit 1; }
echo "postgres.sh: installed"
