#!/usr/bin/env bash
# postgres-down.sh DIR: stops the cluster postgres-up.sh DIR started and removes it.
set -u
D=$(realpath -m "${1:?usage: postgres-down.sh DIR}")
PGD=$(cat "$D/pgdata" 2>/dev/null) || exit 0
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGD/data" -m immediate -w -s stop 2>/dev/null
rm -rf "$PGD" "$D/pgdata" "$D/url"
