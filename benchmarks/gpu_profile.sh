#!/usr/bin/env bash
# Why our Triton kernels run at the speed they do, on one GPU: Nsight Compute profiles of
# chosen launch plans and peers (ncu_triton.py), then the launch-plan sweep (tune_triton.py).
#   OUT=/some/dir [NCU=0] [TUNE_S=300] [TUNE_ARGS='--tokens 4096,32768'] benchmarks/gpu_profile.sh
# NCU=0 skips the profiles, TUNE_S=0 the sweep.
# Leaves under $OUT: profile.log, ncu_triton.csv (every metric of every profiled kernel),
# tune_triton.json.
set -uo pipefail
: "${OUT:?set OUT to the folder for results}"
cd "$(dirname "$0")/.."
exec > >(tee -a "$OUT/profile.log") 2>&1
source benchmarks/gpu_setup.sh
TUNE_S=${TUNE_S:-300}

if [ "${NCU:-1}" != 0 ]; then
  stage nsight compute
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  # the clocks are left alone (--clock-control none); each profiled launch is named by its NVTX range
  $NCU --version && $NCU --clock-control none --nvtx --print-nvtx-rename kernel --kernel-name 'regex:[Nn]orm' \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum \
    -o /tmp/ncu_triton -f \
    $PY benchmarks/ncu_triton.py --peers flashinfer,liger_peer:Liger \
      --plans "${NCU_PLANS:-default,r1w4,r1w8,r1w16,r2w8,r2w32,r1w16p1,r1w8p2,r1w16p2}" \
      --case rms_norm:fp32:0:4096:8192 --case rms_norm:bf16:0:4096:8192 --case rms_norm:fp32:0:16384:5120 \
      --case fused_add_rms_norm:bf16:0:32768:4096 \
    && $NCU --import /tmp/ncu_triton.ncu-rep --csv --page details --print-nvtx-rename kernel > "$OUT/ncu_triton.csv"
fi

if [ "$TUNE_S" -gt 0 ]; then
  stage triton launch plans
  # shellcheck disable=SC2086  # TUNE_ARGS is a list of options
  timeout "$TUNE_S" $PY benchmarks/tune_triton.py --out "$OUT/tune_triton.json" --budget-s $((TUNE_S - 30)) ${TUNE_ARGS:-}
fi
stage done
