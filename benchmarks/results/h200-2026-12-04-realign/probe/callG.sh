# Call G (nineteenth run): decode batch sizes, T 2, 4 and 8 (between the table's 1 and 16), and 32 (between 16
# and 256), every H, both ops, bf16 and fp16 x, both weights, every peer: the tree as committed.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 560 $PY benchmarks/bench_norms.py --out $OUT/bench_between_decode.json --budget-s 500 --tokens 4,8,2,32 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_between_decode.log 2>&1; tail -2 $OUT/bench_between_decode.log; xz -9 $OUT/bench_between_decode.log
stage done
