#!/usr/bin/env bash
# install-test-deps.sh: the Debian packages the real-client e2e tests need
# (skopeo, buildah, umoci, podman, containerd/ctr, dockerd, the reference registry, zstd...).
# Idempotent and fast when everything is present. Runs as root (as CI does).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_INSTALL="$ROOT/../shared/clients/install-clients.sh"
pkgs="skopeo buildah umoci podman containerd docker.io docker-registry apache2-utils zstd curl python3"

missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then
  echo "install-test-deps: all present"
  exit 0
fi
if [ -x "$SHARED_INSTALL" ]; then
  exec "$SHARED_INSTALL"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
echo "install-test-deps: installed$missing"
