# Call D (twentieth run): the tree at HEAD (kernels as ea02213 left them): the full matrix and the perf checks.
set -uo pipefail
source benchmarks/gpu_setup.sh
git log -1 --format=%H 2>/dev/null || true
$PY -c "import torch, triton; print(torch.__version__, triton.__version__)"
stage matrix
timeout 200 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report=$OUT/cert-triton-full.json > $OUT/conformance-full.log 2>&1; tail -2 $OUT/conformance-full.log
stage perf
timeout 150 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --session-timeout=140 --benchmark-json=$OUT/perf-benchmark.json > $OUT/perf.log 2>&1; tail -2 $OUT/perf.log
xz -9 $OUT/conformance-full.log $OUT/cert-triton-full.json $OUT/perf.log $OUT/perf-benchmark.json
stage done
