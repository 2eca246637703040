# Call C (fifteenth run): the quick sweep (704 shapes: T 512 and 8192 too) against every peer, alone in
# one call.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 575 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 550 --quick \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
xz -9 "$OUT/bench_norms.log"
stage done
