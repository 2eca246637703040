set -uo pipefail
cd /work/main 2>/dev/null || true
exec > >(tee -a "$OUT/call1.log") 2>&1
source benchmarks/gpu_setup.sh
stage inductor
TORCH_LOGS=output_code timeout 150 $PY .gpuwork/probe/inductor_dump.py 2> /tmp/inductor_code.log
grep -c "def triton" /tmp/inductor_code.log; xz -T0 -c /tmp/inductor_code.log > "$OUT/inductor_code.log.xz"
stage ncu
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
TORCHINDUCTOR_COMPILE_THREADS=1 timeout 130 $NCU --clock-control none --nvtx --print-nvtx-rename kernel \
    --kernel-name 'regex:[Nn]orm|triton_' \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section SchedulerStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum \
    -o /tmp/ncu_triton -f \
    $PY benchmarks/ncu_triton.py --peers compile_peer:Static --plans default \
      --case fused_add_rms_norm:bf16:0:32768:8192 --case rms_norm:fp32:1:32768:8192 --case fused_add_rms_norm:bf16:0:32768:4096 \
      --case rms_norm:bf16:0:32768:5125 --case fused_add_rms_norm:bf16:0:1:8192 --case rms_norm:bf16:0:1:8192
$NCU --import /tmp/ncu_triton.ncu-rep --csv --page details --print-nvtx-rename kernel > /tmp/ncu1.csv && xz -T0 -c /tmp/ncu1.csv > "$OUT/ncu_call1.csv.xz"
$NCU --import /tmp/ncu_triton.ncu-rep --page details --print-nvtx-rename kernel --section SpeedOfLight 2>/dev/null \
    | grep -E '^  [^ ]|Duration|DRAM Throughput|Memory Throughput' | head -80
stage tune 2880
timeout 170 $PY benchmarks/tune_triton.py --out /tmp/tune_2880.json --budget-s 130 --group 16 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy --hidden 2880
xz -T0 -c /tmp/tune_2880.json > "$OUT/tune_2880.json.xz"
stage done
