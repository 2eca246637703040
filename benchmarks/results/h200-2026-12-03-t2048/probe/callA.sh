# Call A (fourteenth run): fused_add at T 2048 over every plan (its cells look up T 1024's), and
# rms_norm at T 8192 (which looks up the T 4096 cells, staged since the thirteenth run).
set -uo pipefail
source benchmarks/gpu_setup.sh
stage tune fused_add T 2048
timeout 300 $PY benchmarks/tune_triton.py --out "$OUT/tune_fused_2048.json" --budget-s 270 \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops fused_add_rms_norm --dtypes bf16 \
  --pairings fp32:1,x:0 --hidden 7168,8192,6144,5120,4096,2048,2880 --tokens 2048 > "$OUT/tune_fused_2048.log" 2>&1
grep -v "^ \|Warn" "$OUT/tune_fused_2048.log" | tail -16
stage tune rms_norm T 8192
timeout 120 $PY benchmarks/tune_triton.py --out "$OUT/tune_rms_8192.json" --budget-s 100 \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops rms_norm --dtypes bf16 --pairings fp32:1,x:0 \
  --hidden 8192,7168,6144,5120 --tokens 8192 \
  --plans default,r1w4g,r1w8g,r1w16g,r1w8,r2w16,r1w16p2,c2048w8,c2048w16,c4096w8,c4096w16 > "$OUT/tune_rms_8192.log" 2>&1
grep -v "^ \|Warn" "$OUT/tune_rms_8192.log" | tail -8
xz -9 "$OUT"/*.log
stage done
