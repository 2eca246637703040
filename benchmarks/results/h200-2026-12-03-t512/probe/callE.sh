# Call E (fifteenth run): rms_norm at H 5120 with an fp32 weight on call D's plans (T 2048: r1w4p4, T 4096:
# r2w8), judged as the suite judges a case, then swept at T 2048-8192 beside every peer.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage cells
timeout 60 $PY .gpuwork/probe/table_cells15e.py > "$OUT/table_cells_5120.log" 2>&1; tail -1 "$OUT/table_cells_5120.log"
stage sweep
timeout 150 $PY benchmarks/bench_norms.py --out $OUT/bench_5120.json --budget-s 120 --tokens 2048,4096,8192 \
  --hidden 5120 --dtypes bf16,fp16 --pairings fp32:1,x:0 > $OUT/bench_5120.log 2>&1; tail -1 $OUT/bench_5120.log
xz -9 "$OUT/bench_5120.log"
stage done
