# Call B (fourteenth run): the new cells judged as the suite judges a case, then the quick sweep (now with
# T 2048) against every peer.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage cells
timeout 90 $PY .gpuwork/probe/table_cells14.py > "$OUT/table_cells.log" 2>&1; tail -3 "$OUT/table_cells.log"
stage sweep
timeout 470 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 440 --quick \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
xz -9 "$OUT/bench_norms.log"
stage done
