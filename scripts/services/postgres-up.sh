#!/usr/bin/env bash
# postgres-up.sh DIR PORT: a throwaway PostgreSQL 15 cluster on 127.0.0.1:PORT for the tests (as root; the
# server runs as user postgres). The cluster lives in a fresh /tmp/berth-pg.* directory, which user postgres
# can traverse (a checkout under a mode-700 home may not be); DIR/pgdata records where, DIR/url the URL.
# Durability is off (fsync, synchronous_commit): test data only. Stop with postgres-down.sh DIR.
set -euo pipefail
D=$(realpath -m "${1:?usage: postgres-up.sh DIR PORT}")
PORT=${2:?usage: postgres-up.sh DIR PORT}
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || { echo "postgres-up: PostgreSQL 15 is not installed (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$D"
PGD=$(mktemp -d /tmp/berth-pg.XXXXXX)
chown postgres:postgres "$PGD"
echo "$PGD" > "$D/pgdata"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N >"$D/initdb.log"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 60 -s \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGD -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" start
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30
echo "postgres://postgres@127.0.0.1:$PORT/postgres" > "$D/url"
