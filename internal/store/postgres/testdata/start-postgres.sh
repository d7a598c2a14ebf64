#!/bin/sh
# start-postgres.sh starts a throwaway PostgreSQL server for the Coffer store
# tests and prints the DSN to use on stdout (one line, nothing else).
#
# Usage (as root, after `apt-get install -y postgresql` on Debian 12):
#
#   dsn=$(internal/store/postgres/testdata/start-postgres.sh [DATADIR] [PORT])
#   COFFER_TEST_POSTGRES_DSN=$dsn COFFER_REQUIRE_POSTGRES=1 go test ./internal/store/postgres/...
#
# DATADIR defaults to /tmp/coffer-pg, PORT to 55432. The server runs as the
# postgres user, listens on 127.0.0.1 only (and a Unix socket in DATADIR), and
# has fsync off: it is for tests, never for data. Running the script again
# with the same DATADIR reuses the cluster, starts it if it is stopped, and
# prints the same DSN. Stop it with:
#
#   runuser -u postgres -- pg_ctl -D DATADIR stop
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -eu

datadir=${1:-/tmp/coffer-pg}
port=${2:-55432}
db=coffer_test
user=coffer

if [ "$(id -u)" != 0 ]; then
	echo "start-postgres.sh: must run as root (it runs the server as the postgres user)" >&2
	exit 1
fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "start-postgres.sh: no PostgreSQL server found; run: apt-get install -y postgresql" >&2
	exit 1
fi
as_pg() { runuser -u postgres -- "$@"; }

mkdir -p "$datadir"
chown postgres:postgres "$datadir"
chmod 700 "$datadir"
pwfile=$datadir/coffer-password

if [ ! -f "$datadir/PG_VERSION" ]; then
	echo "start-postgres.sh: initdb in $datadir" >&2
	as_pg "$bindir/initdb" -D "$datadir" -U postgres --encoding=UTF8 --locale=C \
		--auth-local=peer --auth-host=scram-sha-256 >&2
	# A random password for the test user, readable by root and postgres only.
	umask 077
	head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$pwfile"
	chown postgres:postgres "$pwfile"
fi

if ! as_pg "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
	echo "start-postgres.sh: starting server on 127.0.0.1:$port" >&2
	as_pg "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
		-o "-p $port -k $datadir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >&2
fi

password=$(cat "$pwfile")
psql_pg() { as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$datadir" -p "$port" -U postgres -d postgres "$@"; }
if [ "$(psql_pg -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
	psql_pg -c "CREATE ROLE $user LOGIN PASSWORD '$password'" >&2
fi
if [ "$(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
	psql_pg -c "CREATE DATABASE $db OWNER $user ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >&2
fi

echo "postgres://$user:$password@127.0.0.1:$port/$db?sslmode=disable"
