# Call H3 (twelfth run): Nsight Compute on rms_norm 1024 x 8192 and 4096 x 8192 (bf16): ours (the table's plan,
# r2w16p1, r1w4), FlashInfer's CuTe-DSL kernel, QuACK's and the copy kernel; then the CuTe-DSL peers at the
# H the eleventh run did not time (bf16 x).
set -uo pipefail
source .gpuwork/probe/cute_setup.sh
stage nsight compute
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 200 $NCU --clock-control none --nvtx --print-nvtx-rename kernel \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
  --metrics dram__bytes_read.sum,dram__bytes_write.sum,gpu__time_duration.sum -o /tmp/ncu_cute -f \
  $PY benchmarks/ncu_triton.py --peers flashinfer_cute_peer:FlashInferCute,quack_peer:Quack,copy_peer:Copy \
  --plans default,r2w16p1,r1w4 --case rms_norm:bf16:0:1024:8192 --case rms_norm:bf16:0:4096:8192 > "$OUT/ncu.log" 2>&1
tail -5 "$OUT/ncu.log"
$NCU --import /tmp/ncu_cute.ncu-rep --csv --page details --print-nvtx-rename kernel > "$OUT/ncu_cute.csv"
wc -l "$OUT/ncu_cute.csv"
stage sweep bf16
timeout 260 $PY benchmarks/bench_norms.py --out "$OUT/bench_cute_bf16.json" --budget-s 225 \
  --impls triton,flashinfer_cute_peer:FlashInferCute,quack_peer:Quack,copy_peer:Copy --dtypes bf16 \
  --pairings x:0,fp32:1 --hidden 7168,6144,2880,5125 --tokens 1,16,256,1024,4096,16384,32768 > "$OUT/bench_cute_bf16.log" 2>&1
tail -2 "$OUT/bench_cute_bf16.log"
xz -9 "$OUT/bench_cute_bf16.log"
stage done
