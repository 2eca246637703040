# Call A (seventeenth run): the aligned-body kernel's weight shifted in each thread (spec ...as), checked
# against fp64 and the other weight paths, then timed at H 5125 beside the table's plans and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
$PY -c "import triton, torch; print('triton', triton.__version__, 'torch', torch.__version__)"
stage check
timeout 240 $PY .gpuwork/probe/shift_check.py $OUT/shift_check.json > $OUT/shift_check.log 2>&1; echo rc=$?; tail -3 $OUT/shift_check.log
stage sass
NORMFUSION_TRITON_INTERPRET=0 timeout 120 $PY .gpuwork/probe/sass_probe.py > $OUT/sass_probe.log 2>&1; grep -v -i warn $OUT/sass_probe.log | tail -8
stage tune
timeout 420 $PY benchmarks/tune_triton.py --out $OUT/tune_shift.json --peers copy_peer:Copy --budget-s 360 \
  --hidden 5125 --tokens 4096,2048,8192,1024,16384,32768 --dtypes bf16 --pairings x:0,fp32:1 \
  --plans default,r1w4as,r1w8as,r1w2as,r1w4av,r1w4a > $OUT/tune_shift.log 2>&1; echo rc=$?; tail -30 $OUT/tune_shift.log
stage done
