#!/usr/bin/env bash
# The GPU certification evidence in one call, each session timed and writing its certificate:
#   1. the full matrix for our Triton kernels alone at seed 0, from cold kernel caches (the
#      "one impl in about a minute" measurement);
#   2. the full matrix for the impls of CERTIFY_IMPLS at each seed of CERTIFY_SEEDS: the first
#      seed alone, the others side by side.
# Leaves under $OUT: run.log, cert-triton.json.xz, and per seed cert-seedN.json.xz (python -m
# pytest_normfusion.report renders each one's Markdown).
#
#   .whl/ holds what ../shared/gpu/flashinfer-bundle.sh writes plus a liger_kernel wheel.
#   OUT=/some/dir benchmarks/gpu_certify.sh
set -uo pipefail
: "${OUT:?set OUT to the folder for results}"
cd "$(dirname "$0")/.."
exec > >(tee -a "$OUT/run.log") 2>&1

source benchmarks/gpu_setup.sh
CERTIFY_IMPLS=${CERTIFY_IMPLS:-triton flashinfer flashinfer-unchecked torch-compile liger_peer:Liger}
CERTIFY_SEEDS=${CERTIFY_SEEDS:-0 1 2}
# Seconds per seed's session. On one H200 (2026-12-01) the five default impls did not finish the full
# matrix in 170-200 s per session; give one call a seed (CERTIFY_SEEDS=1 ...) and about 450 s.
CERTIFY_S=${CERTIFY_S:-240}
TRITON_S=${TRITON_S:-120}  # the triton-alone session
WORKERS=${WORKERS:-14}
export TRITON_CACHE_DIR=/tmp/triton-cache
$PY -c 'from pytest_normfusion.certificate import environment; print(environment.flat("cuda"))'

# pytest-timeout's --session-timeout ends a session cleanly (its certificate written); timeout backs it up
session_limit() { $PY -c 'import pytest_timeout' 2>/dev/null && echo "--session-timeout=$1"; }

certify() {  # name, seed, workers, seconds, impls...
  local name=$1 seed=$2 workers=$3 seconds=$4 start rc
  shift 4
  start=$(date +%s)
  # shellcheck disable=SC2046  # one --normfusion-impl per name
  timeout "$((seconds + 30))" $PY -m pytest -p no:cacheprovider -q -rfE -n "$workers" --normfusion-full \
    $(printf -- '--normfusion-impl=%s ' "$@") --normfusion-seed="$seed" $(session_limit "$seconds") \
    --normfusion-report="$OUT/cert-$name.json" > "/tmp/certify-$name.log" 2>&1
  rc=$?
  grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' "/tmp/certify-$name.log" | tail -n 60
  echo "$name: impls $*, seed $seed: exit $rc, $(( $(date +%s) - start )) s wall with $workers xdist workers"
  rm -f "$OUT/cert-$name.md"  # the JSON holds everything; the Markdown is re-rendered here
  # compressed at once: an uncompressed certificate of five impls (over 16 MB) does not come back,
  # and a call cut short by its time limit never reaches a compression step at the end
  [ -f "$OUT/cert-$name.json" ] && xz -T0 -9 "$OUT/cert-$name.json"
}

stage "certify triton alone, seed 0, cold kernel caches"
certify triton 0 "$WORKERS" "$TRITON_S" triton
seeds=($CERTIFY_SEEDS)
# shellcheck disable=SC2086  # the impl list splits into words
stage "certify seed ${seeds[0]}: $CERTIFY_IMPLS"
certify "seed${seeds[0]}" "${seeds[0]}" "$WORKERS" "$CERTIFY_S" $CERTIFY_IMPLS
rest=("${seeds[@]:1}")
if [ ${#rest[@]} -gt 0 ]; then
  stage "certify seeds ${rest[*]} side by side"
  # shellcheck disable=SC2086
  for seed in "${rest[@]}"; do certify "seed$seed" "$seed" $(( WORKERS / ${#rest[@]} )) "$CERTIFY_S" $CERTIFY_IMPLS & done
  wait
fi
rm -f "$OUT"/*.png
stage done
ls -la "$OUT"
