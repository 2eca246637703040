set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/d
stage inductor source, rms_norm 4096 x 7168 and 4096 x 6144, fp32 weight
for H in 7168 6144; do TORCH_LOGS=output_code timeout 100 $PY .gpuwork/probe/inductor_rms.py 4096 $H > $OUT/d/inductor_rms_$H.log 2>&1; done
grep -h -n "=== \|def triton\|num_warps\|R0_BLOCK\|eviction\|XBLOCK: tl" $OUT/d/inductor_rms_*.log | head -40
stage nsight compute, rms_norm T 4096 with an fp32 weight, our chunked and rows plans
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 240 $NCU --clock-control none --nvtx --nvtx-include 'regex:rms_norm.*/' --print-nvtx-rename kernel \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
  -o /tmp/ncu_d -f $PY benchmarks/ncu_triton.py --peers compile_peer:Static,copy_peer:Copy \
  --plans default,c2048w16,c4096w16,c2048w8,c4096w8,c1024w8,r1w16,r1w8 --case rms_norm:fp32:1:4096:7168 --case rms_norm:fp32:1:4096:5120 --case rms_norm:fp32:1:4096:8192 > $OUT/d/ncu.log 2>&1; tail -2 $OUT/d/ncu.log
$NCU --import /tmp/ncu_d.ncu-rep --page details --print-nvtx-rename kernel > $OUT/d/ncu.txt 2>/dev/null
$NCU --import /tmp/ncu_d.ncu-rep --csv --page details --print-nvtx-rename kernel > $OUT/d/ncu.csv 2>/dev/null
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Registers Per|Achieved Occupancy" $OUT/d/ncu.txt | sed -E 's/, Context.*//; s/<.*>//' | paste - - - - - | awk '{$1=$1};1' | head -40
stage tune rms_norm T 4096 fp32 weight, each plan with and without programmatic dependent launch
timeout 100 $PY benchmarks/tune_triton.py --out $OUT/d/tune_pdl.json --budget-s 80 --pdl both --peers compile_peer:Static,copy_peer:Copy --ops rms_norm --dtypes bf16 --pairings fp32:1 --hidden 7168,6144,8192,5120 --tokens 4096 --plans default,c2048w16,c4096w8,c2048w8,r1w16 > $OUT/d/tune_pdl.log 2>&1; grep -v Warn $OUT/d/tune_pdl.log | tail -6
stage pack
tar -C $OUT -cJf $OUT/d.tar.xz d && rm -rf $OUT/d
stage done
