# Call F (nineteenth run): TMA at unaligned starts (both ways), then T 64 and 128 (between the table's 16 and
# 256), every H, both ops, bf16 and fp16 x, both weights, every peer: the tree as committed.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage tma
for mode in unaligned aligned; do
  timeout 60 $PY .gpuwork/probe/tma_unaligned.py $mode > $OUT/tma_$mode.log 2>&1; tail -3 $OUT/tma_$mode.log
done
stage sweep
timeout 480 $PY benchmarks/bench_norms.py --out $OUT/bench_between_small.json --budget-s 440 --tokens 64,128 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_between_small.log 2>&1; tail -2 $OUT/bench_between_small.log; xz -9 $OUT/bench_between_small.log
stage done
