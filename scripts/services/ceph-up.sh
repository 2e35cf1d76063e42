#!/usr/bin/env bash
# ceph-up.sh DIR MON_PORT RGW_PORT: a throwaway one-node Ceph (mon + one memstore OSD, no mgr) with radosgw
# serving S3 on 127.0.0.1:RGW_PORT, for the tests. cephx with one shared keyring (the OSD cannot talk to the
# mon without it), pool size 1, rgw's pools created up front (rgw creates them lazily otherwise, and its first
# bucket, object and multipart upload each take seconds longer), a short paxos interval (each pool creation
# costs a whole interval), tcp_nodelay on rgw's frontend (Nagle and delayed ACKs add ~40 ms to small
# requests on loopback). Daemons write pid files under DIR/run; stop them with ceph-down.sh DIR.
# Credentials: S3_ACCESS_KEY / S3_SECRET_KEY (default berthtest / berthtestsecret).
set -euo pipefail
D=$(realpath -m "${1:?usage: ceph-up.sh DIR MON_PORT RGW_PORT}")
MON_PORT=${2:?}
RGW_PORT=${3:?}
AK=${S3_ACCESS_KEY:-berthtest}
SK=${S3_SECRET_KEY:-berthtestsecret}
command -v radosgw >/dev/null || { echo "ceph-up: radosgw is not installed (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$D"/{mon,osd,rgw,log,run}
wait_for() { # wait_for SECONDS WHAT COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "ceph-up: timed out waiting for $what; logs in $D/log" >&2; tail -n 20 "$D"/log/*.log >&2 || true; exit 1
}
FSID=$(uuidgen)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
keyring = $D/keyring
auth allow insecure global id reclaim = false
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
paxos propose interval = 0.05
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $D/mon
[osd]
osd data = $D/osd
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-6442450944}
osd memory target = 1073741824
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $D/rgw
rgw dns name = localhost
CONF
C=(-c "$D/ceph.conf")
K="$D/keyring"
ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$K"
ceph-mon "${C[@]}" -i a
wait_for 30 mon ceph "${C[@]}" --connect-timeout 2 mon stat
OSD_UUID=$(uuidgen)
OSD_ID=$(ceph "${C[@]}" osd new "$OSD_UUID")
{ for p in .rgw.root default.rgw.log default.rgw.control default.rgw.meta default.rgw.buckets.index \
    default.rgw.buckets.data default.rgw.buckets.non-ec; do
    echo "osd pool create $p 8 8"; echo "osd pool application enable $p rgw"; done; } | ceph "${C[@]}" >/dev/null 2>&1
ceph-osd "${C[@]}" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.log" 2>&1
ceph-osd "${C[@]}" -i "$OSD_ID" 2>/dev/null
osd_up() { ceph "${C[@]}" osd stat | grep -q ' 1 up'; }
wait_for 60 osd osd_up
radosgw "${C[@]}" -n client.rgw
radosgw-admin "${C[@]}" user create --uid=berth --display-name=berth --access-key="$AK" --secret="$SK" >/dev/null
wait_for 60 radosgw curl -fs -o /dev/null "http://127.0.0.1:$RGW_PORT/"
echo "http://127.0.0.1:$RGW_PORT" > "$D/endpoint"
