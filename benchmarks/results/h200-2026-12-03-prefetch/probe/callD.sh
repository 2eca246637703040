# Call D (seventeenth run): the tree as committed with the looping aligned-body kernel loading each row while it
# normalises the one before, and the H 5125 T 1024 cells on it: checked against fp64, the cells' tune, the full
# matrix, the quick sweep at H 5125 (every peer), and the perf checks.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage check
SPECS=r1w4a,r1w8p2a timeout 150 $PY .gpuwork/probe/aligned_check.py $OUT/aligned_check.json > $OUT/aligned_check.log 2>&1; echo rc=$?; tail -2 $OUT/aligned_check.log
stage tune
timeout 120 $PY benchmarks/tune_triton.py --out $OUT/tune_prefetch.json --peers copy_peer:Copy --budget-s 100 \
  --hidden 5125 --tokens 1024,2048,4096 --dtypes bf16,fp16 --pairings x:0,fp32:1 \
  --plans default,r1w8p2a,r1w4p2a,r1w4av,r1w4a,r1w8a > $OUT/tune_prefetch.log 2>&1; echo rc=$?; tail -24 $OUT/tune_prefetch.log
stage matrix
timeout 90 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report=$OUT/cert-triton-full.json > $OUT/conformance-full.log 2>&1; tail -2 $OUT/conformance-full.log
stage sweep
timeout 170 $PY benchmarks/bench_norms.py --out $OUT/bench_norms_5125.json --budget-s 140 --quick --hidden 5125 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms_5125.log 2>&1; tail -2 $OUT/bench_norms_5125.log
stage perf
timeout 100 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --session-timeout=90 --benchmark-json=$OUT/perf-benchmark.json > $OUT/perf.log 2>&1; tail -2 $OUT/perf.log
xz -9 $OUT/bench_norms_5125.log $OUT/conformance-full.log $OUT/cert-triton-full.json $OUT/perf.log $OUT/perf-benchmark.json $OUT/tune_prefetch.log
stage done
