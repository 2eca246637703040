# Call A (sixteenth run): the aligned-body kernel loading x before its wait for the weight's copies:
# outputs against synchronised calls (eager and in a CUDA graph), the cases that take it judged as the
# suite judges them, an A/B sweep at H 5125 and 5120 beside the launcher as committed before, and H 5125's
# plans with and without the weight's copies (fused_add too).
set -uo pipefail
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PWD/.gpuwork/probe:$PYTHONPATH
stage pdl_order
timeout 150 $PY .gpuwork/probe/pdl_order.py > $OUT/pdl_order.log 2>&1; tail -6 $OUT/pdl_order.log
stage cells
timeout 200 $PY .gpuwork/probe/cells_heads.py > $OUT/cells_heads.log 2>&1; grep -c PASSED $OUT/cells_heads.log; tail -1 $OUT/cells_heads.log
stage ab
timeout 230 $PY benchmarks/bench_norms.py --out $OUT/bench_heads.json --budget-s 210 \
  --impls triton,old_peer:Old,copy_peer:Copy,torch-compile,compile_peer:Static --tokens 1024,2048,4096,8192,16384,32768 \
  --hidden 5125,5120 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_heads.log 2>&1; tail -2 $OUT/bench_heads.log
stage tune
timeout 200 $PY benchmarks/tune_triton.py --out $OUT/tune_heads.json --peers copy_peer:Copy --ops fused_add_rms_norm,rms_norm \
  --dtypes bf16 --pairings fp32:1,x:0 --hidden 5125 --tokens 1024,2048,4096,8192,16384 \
  --plans r1w4a,r1w8a,r1w16a,r1w4av,r1w8av,r1w16av,r1w2av --budget-s 170 > $OUT/tune_heads.log 2>&1; tail -25 $OUT/tune_heads.log
xz -9 $OUT/bench_heads.log $OUT/tune_heads.log
stage done
