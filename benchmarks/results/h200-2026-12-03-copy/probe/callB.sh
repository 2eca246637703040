# Call B (sixteenth run): the quick sweep (704 shapes) on the table as committed (call E's H 5120 cells among
# it), every peer; then the perf checks against every peer and the full matrix.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 400 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 360 --quick \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
stage perf
timeout 110 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --session-timeout=100 --benchmark-json=$OUT/perf-benchmark.json > $OUT/perf.log 2>&1; tail -2 $OUT/perf.log
stage matrix
timeout 75 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report=$OUT/cert-triton-full.json > $OUT/conformance-full.log 2>&1; tail -2 $OUT/conformance-full.log
xz -9 $OUT/bench_norms.log $OUT/conformance-full.log $OUT/cert-triton-full.json $OUT/perf.log $OUT/perf-benchmark.json
stage done
