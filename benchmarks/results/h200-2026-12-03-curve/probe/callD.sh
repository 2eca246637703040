# Call D (eleventh run): the sweep again with the copy peer moving integers, then the perf checks.
set -u
source benchmarks/gpu_setup.sh
stage sweep
timeout 420 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 400 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
stage perf checks
timeout 140 $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/perf-benchmark.json --session-timeout=125 > $OUT/perf.log 2>&1
grep -E "passed|failed" $OUT/perf.log | tail -3
xz -9 $OUT/bench_norms.log $OUT/perf.log
stage done
