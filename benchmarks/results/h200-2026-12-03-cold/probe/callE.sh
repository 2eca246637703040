set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/e
stage inductor source, fused_add 32768 x 8192
TORCH_LOGS=output_code timeout 120 $PY .gpuwork/probe/inductor_code.py 32768 8192 > $OUT/e/inductor_code.log 2>&1; grep -n "def triton\|num_warps\|XBLOCK\|R0_BLOCK\|RBLOCK\|=== " $OUT/e/inductor_code.log | head -40
stage nsight compute
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 300 $NCU --clock-control none --nvtx --nvtx-include 'regex:fused_add.*/' --print-nvtx-rename kernel \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
  --section WarpStateStats --section SchedulerStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,gpu__time_duration.sum \
  -o /tmp/ncu_e -f $PY benchmarks/ncu_triton.py --peers torch-compile,compile_peer:Static \
  --plans default,r1w16,r1w32,r1w8,c4096w8,c2048w16 --case fused_add_rms_norm:bf16:0:32768:8192 > $OUT/e/ncu.log 2>&1; tail -5 $OUT/e/ncu.log
$NCU --import /tmp/ncu_e.ncu-rep --csv --page details --print-nvtx-rename kernel > $OUT/e/ncu.csv 2>/dev/null
$NCU --import /tmp/ncu_e.ncu-rep --page details --print-nvtx-rename kernel > $OUT/e/ncu.txt 2>/dev/null
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Block Size|Grid Size|Theoretical Occ" $OUT/e/ncu.txt | head -120
stage pack
tar -C $OUT -cJf $OUT/e.tar.xz e && rm -rf $OUT/e
stage done
