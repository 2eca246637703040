# Call C (eleventh run): the copy kernel's speed by dtype.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage copy kernel by dtype
timeout 300 $PY .gpuwork/probe/copy_dtypes.py "$OUT/copy_dtypes.json" 2>&1 | tee "$OUT/copy_dtypes.log"
