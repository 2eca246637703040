# Call F (eighteenth run): two rows of one head a program in the aligned-body kernel (r2w<n>a, r2w<n>av):
# checked against fp64 and one row a program, then tuned at H 5125 beside the table's plans and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage check
SPECS=r1w4a,r1w4av,r2w4a,r2w4av,r2w8a,r2w8av timeout 170 $PY .gpuwork/probe/aligned_check.py $OUT/pairs_check.json > $OUT/pairs_check.log 2>&1; echo rc=$?; tail -2 $OUT/pairs_check.log
stage tune
timeout 260 $PY benchmarks/tune_triton.py --out $OUT/tune_pairs.json --peers copy_peer:Copy --budget-s 230 \
  --hidden 5125 --tokens 4096,2048,8192,1024,16384,32768 --dtypes bf16,fp16 --pairings x:0,fp32:1 \
  --plans default,r1w4av,r1w4a,r1w8a,r2w4a,r2w4av,r2w8a,r2w8av,r2w16a > $OUT/tune_pairs.log 2>&1; echo rc=$?; tail -40 $OUT/tune_pairs.log
xz -9 $OUT/tune_pairs.log
stage done
