# Call H (eighteenth run): T between the table's large T (3000 between its 2048 and 4096 cells, 12000 between
# 8192 and 16384), every H, both ops, bf16 and fp16 x, both weights, every peer: the tree as committed.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 330 $PY benchmarks/bench_norms.py --out $OUT/bench_between_large.json --budget-s 300 --tokens 3000,12000 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_between_large.log 2>&1; tail -2 $OUT/bench_between_large.log; xz -9 $OUT/bench_between_large.log
stage done
