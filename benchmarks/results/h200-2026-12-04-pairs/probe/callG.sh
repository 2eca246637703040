# Call G (eighteenth run): the tree as committed with the H 5125 cells on two rows a program: the full
# matrix, the quick sweep at H 5125 (every peer) and the perf checks.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage matrix
timeout 100 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report=$OUT/cert-triton-full.json > $OUT/conformance-full.log 2>&1; tail -2 $OUT/conformance-full.log
stage sweep
timeout 170 $PY benchmarks/bench_norms.py --out $OUT/bench_norms_5125.json --budget-s 140 --quick --hidden 5125 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms_5125.log 2>&1; tail -2 $OUT/bench_norms_5125.log
stage perf
timeout 110 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --session-timeout=100 --benchmark-json=$OUT/perf-benchmark.json > $OUT/perf.log 2>&1; tail -2 $OUT/perf.log
xz -9 $OUT/bench_norms_5125.log $OUT/conformance-full.log $OUT/cert-triton-full.json $OUT/perf.log $OUT/perf-benchmark.json
stage done
