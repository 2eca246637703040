# Call D (thirteenth run): the sweep with the table's staged cells.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 560 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 520 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
xz -9 $OUT/bench_norms.log
stage done
