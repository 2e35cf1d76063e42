#!/usr/bin/env bash
# fixtures.sh [OUTDIR]: builds the real-client e2e fixtures once with the project's own builder
# (scripts/fixtures/build.mjs; big layer BERTH_FIXTURES_BIG_MIB, default 64 MiB) and caches them:
# does nothing when OUTDIR/fixtures.tsv is non-empty and was built by the same builder with the
# same size. Default OUTDIR .tmp/fixtures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.tmp/fixtures}
export BERTH_FIXTURES_BIG_MIB=${BERTH_FIXTURES_BIG_MIB:-64}
stamp="big=$BERTH_FIXTURES_BIG_MIB $(cat "$ROOT"/scripts/fixtures/*.mjs | sha256sum | cut -d' ' -f1)"
if [ -s "$OUT/fixtures.tsv" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
# Build into a scratch folder and move it into place, so an interrupted build is never cached.
TMP="$OUT.building.$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP" "$TMP.log"' EXIT
mkdir -p "$(dirname "$OUT")"
if ! node "$ROOT/scripts/fixtures/build.mjs" "$TMP" >"$TMP.log" 2>&1; then
  cat "$TMP.log" >&2
  rm -f "$TMP.log"
  exit 1
fi
rm -f "$TMP.log"
printf '%s\n' "$stamp" > "$TMP/.stamp"
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
