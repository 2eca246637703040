# Call A (eleventh run): the copy's speed against its size; then the rows kernel with its weight
# loaded piece by piece after the sum of squares (plan spec suffix l) beside the table's plan.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage copy curve
timeout 200 $PY .gpuwork/probe/copy_curve.py "$OUT/copy_curve.json" 2>&1 | tee "$OUT/copy_curve.log"
LATE=r1w4l,r1w8l,r1w16l,r2w8l,r2w16l
stage tune T 4096
timeout 220 $PY benchmarks/tune_triton.py --out "$OUT/tune_late_4096.json" --budget-s 180 --peers copy_peer:Copy --group 8 \
  --hidden 4096,5120,6144,7168,8192 --tokens 4096 --plans "$LATE" 2>&1 | tee "$OUT/tune_late_4096.log"
stage tune T 1024 16384 32768
timeout 150 $PY benchmarks/tune_triton.py --out "$OUT/tune_late_other.json" --budget-s 110 --peers copy_peer:Copy --group 8 \
  --hidden 5120,7168,8192,6144,4096 --tokens 16384,1024,32768 --plans "$LATE" 2>&1 | tee "$OUT/tune_late_other.log"
