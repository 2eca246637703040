set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/a
G=default,r1w4a,r1w4av,r1w8av,r1w4ag,r1w8ag,r1w16ag,r1w4p1ag,r1w4p2ag,r1w4p4ag,r1w8p1ag,r1w8p2ag
stage tune H 5125: the weight shifted in the program beside the table and its copies
timeout 250 $PY benchmarks/tune_triton.py --out $OUT/a/tune_gather.json --budget-s 225 --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops rms_norm,fused_add_rms_norm --dtypes bf16 --pairings fp32:1,x:0 --hidden 5125 --tokens 4096,16384,32768,1024,256 --plans $G > $OUT/a/tune_gather.log 2>&1; grep -v Warn $OUT/a/tune_gather.log | tail -24
stage nsight compute, rms_norm T 4096 with an fp32 weight, and 5125
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 200 $NCU --clock-control none --nvtx --nvtx-include 'regex:rms_norm.*/' --print-nvtx-rename kernel \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
  --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,gpu__time_duration.sum \
  -o /tmp/ncu_a -f $PY benchmarks/ncu_triton.py --peers compile_peer:Static,copy_peer:Copy \
  --plans default,r1w4av,r1w4ag,r1w8ag --case rms_norm:fp32:1:4096:6144 --case rms_norm:fp32:1:4096:7168 --case rms_norm:bf16:0:4096:6144 --case rms_norm:fp32:1:4096:5125 > $OUT/a/ncu.log 2>&1; tail -3 $OUT/a/ncu.log
$NCU --import /tmp/ncu_a.ncu-rep --csv --page details --print-nvtx-rename kernel > $OUT/a/ncu.csv 2>/dev/null
$NCU --import /tmp/ncu_a.ncu-rep --page details --print-nvtx-rename kernel > $OUT/a/ncu.txt 2>/dev/null
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|L2 Cache Throughput|L1/TEX Cache Throughput|Registers Per|Achieved Occupancy|lts__t_bytes|dram__bytes_read" $OUT/a/ncu.txt | head -150
stage pack
tar -C $OUT -cJf $OUT/a.tar.xz a && rm -rf $OUT/a
stage done
