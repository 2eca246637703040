#!/usr/bin/env bash
# One GPU run of everything GPU-side, for a host with no package index: installs the
# FlashInfer bundle and the Liger wheel from .whl/, then runs
#   1. the conformance suite for the impls of CONFORMANCE_IMPLS (default reference,
#      flashinfer, flashinfer-unchecked and triton; certificate: conformance.json + .md),
#   2. the perf checks (triton vs reference, torch-compile, flashinfer, liger; pytest-benchmark JSON),
#      and with TWIN_S > 0 the same checks of triton and of torch-compile against a second
#      preparation of themselves (benchmarks/twin_peer.py; verdicts in run.log): every failure
#      there is a false alarm, the measure of this GPU's tie floor (perf.stats.PREPARATION_SPREAD),
#   3. the norm benchmark sweep (JSON),
#   4. with TUNE_S > 0, the launch-plan sweep of our Triton kernels (tune_triton.json),
#   5. with 2+ GPUs, the all-reduce perf checks (flashinfer fused vs NCCL + norm; verdicts in
#      run.log) and the all-reduce fused-vs-unfused benchmark per world size the GPUs allow (JSON),
#   6. report.py: docs/performance.md's results and the plot,
# and leaves at most 8 files under $OUT: run.log, conformance.json + .md, perf-benchmark.json,
# bench_norms.json, tune_triton.json or bench_allreduce.json, performance.md, performance.png.
# Each stage has its own time limit (seconds, env CONFORMANCE_S, PERF_S, TWIN_S (each of its two
# runs), BENCH_S, TUNE_S, ALLREDUCE_S; CONFORMANCE_S=0 skips the conformance run) so that the whole
# run fits a 10-minute command on one GPU (about 8 minutes; TWIN_S adds up to twice itself, and with
# more GPUs each world size adds up to 2 x ALLREDUCE_S); a stage cut short keeps what it wrote.
#
#   .whl/ holds what ../shared/gpu/flashinfer-bundle.sh writes (flashinfer-bundle.tar.xz,
#   flashinfer-aot-sm90a.tar.xz, the apache-tvm-ffi wheel) plus a liger_kernel wheel.
#   OUT=/some/dir benchmarks/gpu_run.sh
set -uo pipefail
: "${OUT:?set OUT to the folder for results}"
cd "$(dirname "$0")/.."
log=$OUT/run.log
exec > >(tee -a "$log") 2>&1

source benchmarks/gpu_setup.sh
CONFORMANCE_S=${CONFORMANCE_S:-150} PERF_S=${PERF_S:-150} BENCH_S=${BENCH_S:-160} ALLREDUCE_S=${ALLREDUCE_S:-60}
TUNE_S=${TUNE_S:-0} TWIN_S=${TWIN_S:-0}
CONFORMANCE_IMPLS=${CONFORMANCE_IMPLS:-reference flashinfer flashinfer-unchecked triton}
gpus=$($PY -c 'import torch; print(torch.cuda.device_count())')
$PY - <<'EOF'
import torch
from pytest_normfusion.certificate import environment
from pytest_normfusion.perf import stats, timing
print(environment.flat("cuda"))
src = torch.empty(timing.COPY_BYTES, dtype=torch.uint8, device="cuda").fill_(1)
dst = torch.empty_like(src)
graphed = timing.sample_in_blocks([timing.prepare([lambda: dst.copy_(src)])])[0].summary.median
print(f"device copy: {timing.copy_bandwidth('cuda'):.0f} GB/s eager (the roofline), "
      f"{stats.gbps(2 * timing.COPY_BYTES, graphed):.0f} GB/s as a CUDA-graph memcpy node")
EOF

# pytest-timeout's --session-timeout ends a session cleanly (reports and JSON written)
session_limit() { $PY -c 'import pytest_timeout' 2>/dev/null && echo "--session-timeout=$1"; }

if [ "$CONFORMANCE_S" -gt 0 ]; then
  stage conformance
  # flashinfer-unchecked: FlashInfer without our call-time dtype refusal, so the probe of the
  # declined mixed-weight cases shows what its kernels return
  # shellcheck disable=SC2046  # one --normfusion-impl per name
  timeout "$CONFORMANCE_S" $PY -m pytest -p no:cacheprovider -q -rfE -n 8 -m "not perf" \
    $(printf -- '--normfusion-impl=%s ' $CONFORMANCE_IMPLS) \
    --normfusion-report="$OUT/conformance.json" $(session_limit $((CONFORMANCE_S - 20)))
fi

stage perf checks
# the two telling weight pairings (Llama: same dtype; Gemma: fp32 weight + 1), to fit the stage
timeout "$PERF_S" $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' \
  --benchmark-json="$OUT/perf-benchmark.json" $(session_limit $((PERF_S - 20)))

if [ "$TWIN_S" -gt 0 ]; then
  stage perf checks against twins
  for pair in triton:Twin torch-compile:CompileTwin; do
    timeout "$TWIN_S" $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl="${pair%%:*}" \
      --normfusion-perf-peers="twin_peer:${pair#*:}" --normfusion-dtypes=bf16 -k 'w_bf16-bias0 or w_fp32-bias1' \
      $(session_limit $((TWIN_S - 20)))
  done
fi

stage norm benchmarks
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
timeout "$BENCH_S" $PY benchmarks/bench_norms.py --out "$OUT/bench_norms.json" --quick --budget-s $((BENCH_S - 40)) ${BENCH_ARGS:-}

if [ "$TUNE_S" -gt 0 ]; then
  stage triton launch plans
  timeout "$TUNE_S" $PY benchmarks/tune_triton.py --out "$OUT/tune_triton.json" --budget-s $((TUNE_S - 30))
fi

stage all-reduce perf checks and benchmarks
if [ "$gpus" -ge 2 ]; then
  timeout "$ALLREDUCE_S" $PY -m pytest -p no:cacheprovider -v -rf -m perf -k test_allreduce_speed \
    --normfusion-impl=flashinfer --normfusion-dtypes=bf16
fi
ar=()
for ws in 2 4 8; do
  if [ "$gpus" -ge "$ws" ]; then
    timeout "$ALLREDUCE_S" torchrun --standalone --nproc-per-node="$ws" benchmarks/bench_allreduce.py --out "/tmp/bench_allreduce_ws$ws.json" \
      && ar+=("/tmp/bench_allreduce_ws$ws.json")
  else
    echo "world size $ws: only $gpus GPU(s)"
  fi
done
if [ ${#ar[@]} -gt 0 ]; then
  $PY - "$OUT/bench_allreduce.json" "${ar[@]}" <<'EOF'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[2:]]
meta = {**runs[0]["meta"], "world_sizes": [r["meta"]["world_size"] for r in runs]}
json.dump({"meta": meta, "records": [rec for r in runs for rec in r["records"]]}, open(sys.argv[1], "w"), indent=1)
EOF
fi

stage report
cp docs/performance.md "$OUT/performance.md"
args=(--doc "$OUT/performance.md" --plot "$OUT/performance.png")
[ -f "$OUT/bench_norms.json" ] && args+=(--norms "$OUT/bench_norms.json")
[ -f "$OUT/bench_allreduce.json" ] && args+=(--allreduce "$OUT/bench_allreduce.json")
$PY benchmarks/report.py "${args[@]}"
stage done
ls -la "$OUT"
