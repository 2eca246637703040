set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/b
stage tune H 5125: the weight copies from many programs
timeout 150 $PY benchmarks/tune_triton.py --out $OUT/b/tune_heads.json --budget-s 130 --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops rms_norm,fused_add_rms_norm --dtypes bf16 --pairings fp32:1,x:0 --hidden 5125 --tokens 4096,16384,32768,1024 --plans default,r1w4a,r1w4av,r1w8av,r1w4avn > $OUT/b/tune_heads.log 2>&1; grep -v Warn $OUT/b/tune_heads.log | tail -17
stage nsight compute, the weight copies at 4096 x 5125
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 60 $NCU --clock-control none --nvtx --nvtx-include 'regex:rms_norm.*/' --print-nvtx-rename kernel \
  --section SpeedOfLight --section LaunchStats --section Occupancy \
  -o /tmp/ncu_b -f $PY benchmarks/ncu_triton.py --plans r1w4av --case rms_norm:fp32:1:4096:5125 --case rms_norm:bf16:0:4096:5125 > $OUT/b/ncu.log 2>&1; tail -2 $OUT/b/ncu.log
$NCU --import /tmp/ncu_b.ncu-rep --page details --print-nvtx-rename kernel > $OUT/b/ncu.txt 2>/dev/null
grep -E "^  [a-zA-Z_].*\(|Duration|Registers Per" $OUT/b/ncu.txt | head -20
stage sweep
timeout 380 $PY benchmarks/bench_norms.py --out $OUT/b/bench_norms.json --budget-s 360 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/b/bench_norms.log 2>&1; tail -2 $OUT/b/bench_norms.log
stage pack
tar -C $OUT -cJf $OUT/b.tar.xz b && rm -rf $OUT/b
stage done
