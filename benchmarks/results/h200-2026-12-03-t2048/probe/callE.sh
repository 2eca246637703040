# Call E (fourteenth run): the sweep at the T the quick sweep skips (64, 512, 8192), every peer.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage sweep T 64 512 8192
timeout 270 $PY benchmarks/bench_norms.py --out $OUT/bench_other_t.json --budget-s 240 --tokens 8192,512,64 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_other_t.log 2>&1; tail -2 $OUT/bench_other_t.log
xz -9 "$OUT/bench_other_t.log"
stage done
