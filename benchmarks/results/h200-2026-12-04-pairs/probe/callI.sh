# Call I (eighteenth run): T between the table's other large T (6000 between its 4096 and 8192 cells, 24000
# between 16384 and 32768), every H, both ops, bf16 and fp16 x, both weights, every peer: the tree as committed.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep
timeout 400 $PY benchmarks/bench_norms.py --out $OUT/bench_between_6000.json --budget-s 370 --tokens 6000,24000 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_between_6000.log 2>&1; tail -2 $OUT/bench_between_6000.log; xz -9 $OUT/bench_between_6000.log
stage done
