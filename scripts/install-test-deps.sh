#!/usr/bin/env bash
# install-test-deps.sh: the Debian packages the tests need: the real clients of the e2e suites (skopeo,
# buildah, umoci, podman, containerd/ctr, dockerd, the reference registry, zstd…), and the services the
# tests start (scripts/services.mjs: PostgreSQL 15, Ceph radosgw; Prometheus, started by test/http/prometheus.test.ts; Chromium, driven headless by test/ui through playwright-core; HAProxy, started by test/http/relative-urls.test.ts and test/e2e/scale-out.test.ts). Idempotent and fast when everything is
# present. Runs as root (as CI does).
set -euo pipefail
pkgs="skopeo buildah umoci podman containerd docker.io docker-registry apache2-utils zstd curl python3 openssl \
  postgresql-15 ceph-mon ceph-osd ceph-common radosgw uuid-runtime prometheus chromium fonts-dejavu-core haproxy"

missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then
  echo "install-test-deps: all present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
echo "install-test-deps: installed$missing"
