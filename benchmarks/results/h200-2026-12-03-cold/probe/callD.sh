set -u
source benchmarks/gpu_setup.sh
stage sweep
timeout 480 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 420 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
xz -9 $OUT/bench_norms.log
stage done
