# Call C (seventeenth run): the weight shifted in each thread, now by a branch a head, checked and timed at H 5125
# (one branch a head, no selects; spec ...as) beside the table's plans, the looping prefetch (...p2af) and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage check
timeout 240 $PY .gpuwork/probe/shift_check.py $OUT/shift_check.json > $OUT/shift_check.log 2>&1; echo rc=$?; tail -2 $OUT/shift_check.log
stage tune
timeout 420 $PY benchmarks/tune_triton.py --out $OUT/tune_static.json --peers copy_peer:Copy --budget-s 360 \
  --hidden 5125 --tokens 4096,2048,8192,1024,16384,32768 --dtypes bf16,fp16 --pairings x:0,fp32:1 \
  --plans default,r1w4av,r1w4as,r1w8as,r1w2as,r1w8p2af,r1w4p2af,r1w4a,r1w8a > $OUT/tune_static.log 2>&1; echo rc=$?; tail -25 $OUT/tune_static.log
stage done
