set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 45 $PY benchmarks/tune_triton.py --out /tmp/fp16_check.json --budget-s 35 --group 16 --dtypes bf16,fp16 --pairings x:0 \
  --peers flashinfer,liger_peer:Liger,copy_peer:Copy --hidden 4096,7168,8192 --tokens 256 --ops rms_norm --plans default > /tmp/fp16_check.log 2>&1
xz -T0 -c /tmp/fp16_check.json > "$OUT/fp16_check.json.xz"
grep -E "best|budget" /tmp/fp16_check.log | cut -c1-150
timeout 200 $PY benchmarks/tune_triton.py --out /tmp/tune_large2.json --budget-s 185 --group 16 \
  --peers compile_peer:Static,copy_peer:Copy --hidden 6144,7168 --tokens 32768,16384 \
  --plans c2048w8,c2048w16,c4096w8,c4096w16,r1w4,r1w8,r1w16,r1w4u,r1w8u,r1w16u,r2w8 > /tmp/tune_large2.log 2>&1
xz -T0 -c /tmp/tune_large2.json > "$OUT/tune_large2.json.xz"
grep -E "best|budget" /tmp/tune_large2.log | cut -c1-150
echo "total $(( $(date +%s) - start )) s"
