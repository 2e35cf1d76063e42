#!/usr/bin/env bash
# ceph-down.sh DIR: kills the daemons ceph-up.sh DIR started (by their pid files) and removes their data.
set -u
D=$(realpath -m "${1:?usage: ceph-down.sh DIR}")
for f in "$D"/run/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
rm -rf "$D"/{mon,osd,rgw,run,keyring,monmap,ceph.conf,endpoint}
