# Call D (fifteenth run): rms_norm fp16 x with an fp32 weight ran 3-14 % slower than bf16 x at H 5120
# (T 2048-8192, the staged cells) in call C's sweep: every plan, both dtypes, beside the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage tune fp16 against bf16
timeout 200 $PY benchmarks/tune_triton.py --out "$OUT/tune_fp16_5120.json" --budget-s 170 \
  --peers copy_peer:Copy --ops rms_norm --dtypes fp16,bf16 --pairings fp32:1 \
  --hidden 5120 --tokens 2048,4096,8192 > "$OUT/tune_fp16_5120.log" 2>&1
grep -v "^ \|Warn" "$OUT/tune_fp16_5120.log" | tail -8
xz -9 "$OUT"/*.log
stage done
