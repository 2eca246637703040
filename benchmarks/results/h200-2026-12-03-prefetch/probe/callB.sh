# Call B (seventeenth run): the looping aligned-body kernel loading each row while it normalises the one
# before (spec ...p<n>af), checked against fp64 and the other weight paths, then timed at H 5125.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage check
timeout 240 $PY .gpuwork/probe/shift_check.py $OUT/shift_check.json > $OUT/shift_check.log 2>&1; echo rc=$?; tail -2 $OUT/shift_check.log
stage sass
NORMFUSION_TRITON_INTERPRET=0 timeout 120 $PY .gpuwork/probe/sass_probe.py > $OUT/sass_probe.log 2>&1; grep -v -i warn $OUT/sass_probe.log | cut -c1-60
stage tune
timeout 420 $PY benchmarks/tune_triton.py --out $OUT/tune_prefetch.json --peers copy_peer:Copy --budget-s 360 \
  --hidden 5125 --tokens 4096,2048,8192,1024,16384,32768 --dtypes bf16 --pairings x:0,fp32:1 \
  --plans default,r1w4av,r1w8p2af,r1w8p3af,r1w4p2af,r1w4p3af,r1w16p1af,r1w8p2a,r1w4as > $OUT/tune_prefetch.log 2>&1; echo rc=$?; tail -25 $OUT/tune_prefetch.log
stage done
