# Call E (seventeenth run): T between the table's T (700 and 1500, which look up the cells of T 512/1024 and
# 1024/2048), every H, both ops, bf16 and fp16 x, both weights, every peer: the tree as committed.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 300 $PY benchmarks/bench_norms.py --out $OUT/bench_between.json --budget-s 260 --tokens 700,1500 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_between.log 2>&1; tail -2 $OUT/bench_between.log; xz -9 $OUT/bench_between.log
stage done
