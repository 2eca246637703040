set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
TORCHINDUCTOR_COMPILE_THREADS=1 timeout 170 $NCU --clock-control none --nvtx --print-nvtx-rename kernel \
    --kernel-name 'regex:[Nn]orm|triton_' --launch-skip 0 \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum \
    -o /tmp/ncu5 -f \
    $PY benchmarks/ncu_triton.py --peers compile_peer:Static --plans default,r1w4a \
      --case rms_norm:bf16:0:32768:5125 --case rms_norm:fp32:1:32768:5125 --case fused_add_rms_norm:fp32:1:1024:8192 \
      --case rms_norm:fp32:1:4096:8192 --case rms_norm:bf16:0:32768:8192 > /tmp/ncu5.log 2>&1
echo "ncu exit $?"
$NCU --import /tmp/ncu5.ncu-rep --csv --page details --print-nvtx-rename kernel > /tmp/ncu5.csv && xz -T0 -c /tmp/ncu5.csv > "$OUT/ncu_triton.csv.xz"
$NCU --import /tmp/ncu5.ncu-rep --page details --print-nvtx-rename kernel --section SpeedOfLight 2>/dev/null \
    | grep -E '^  [^ ]|Duration|DRAM Throughput' | grep -B1 -A2 "/" | head -60
