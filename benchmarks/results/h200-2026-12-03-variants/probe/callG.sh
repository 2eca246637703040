# Call G (twelfth run): kernel variants (launch_dependents on entry; streaming cache hints) beside the
# shipped kernels and the copy kernel; then cluster plans at rms_norm 1024 x 8192.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage variants
timeout 400 $PY .gpuwork/probe/variants.py "$OUT/variants.json" 2>&1 | tee "$OUT/variants.log"
stage tune clusters 1024 x 8192
timeout 110 $PY benchmarks/tune_triton.py --out "$OUT/tune_clusters.json" --budget-s 85 --ops rms_norm --dtypes bf16 \
  --pairings x:0 --hidden 8192 --tokens 1024 --plans r1w8,r2w16p1,r1w4,r1w4k2,r1w8k2,r1w16k2,r1w2k4,r1w4k4,r1w8k4,r1w2k8,r1w4k8 \
  --peers copy_peer:Copy --group 12 2>&1 | tee "$OUT/tune_clusters.log"
stage done
