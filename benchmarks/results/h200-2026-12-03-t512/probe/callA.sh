# Call A (fifteenth run): T 512 (which looked up the T 256 cells) for both ops and fused_add at T 8192 (which
# looked up the T 4096 cells), every plan, with the peers that led there in the fourteenth run's call E.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage tune T 512
timeout 330 $PY benchmarks/tune_triton.py --out "$OUT/tune_512.json" --budget-s 300 \
  --peers torch-compile,compile_peer:Static,flashinfer,copy_peer:Copy --ops rms_norm,fused_add_rms_norm --dtypes bf16 \
  --pairings fp32:1,x:0 --hidden 6144,7168,4096,2880,8192,5120,2048 --tokens 512 > "$OUT/tune_512.log" 2>&1
grep -v "^ \|Warn" "$OUT/tune_512.log" | tail -28
stage tune fused_add T 8192
timeout 200 $PY benchmarks/tune_triton.py --out "$OUT/tune_fused_8192.json" --budget-s 180 \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops fused_add_rms_norm --dtypes bf16 \
  --pairings x:0,fp32:1 --hidden 7168,8192,6144,5120,4096,2048,2880 --tokens 8192 > "$OUT/tune_fused_8192.log" 2>&1
grep -v "^ \|Warn" "$OUT/tune_fused_8192.log" | tail -14
xz -9 "$OUT"/*.log
stage done
