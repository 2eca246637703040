set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 130 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=115 --normfusion-report="$OUT/cert-triton-full-seed0.json" > /tmp/conf.log 2>&1
echo "conformance exit $? in $(( $(date +%s) - start )) s" >> /tmp/conf.log
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 6
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full.log.xz"; [ -f "$OUT/cert-triton-full-seed0.json" ] && xz -T0 -9 "$OUT/cert-triton-full-seed0.json"
rm -f "$OUT/cert-triton-full-seed0.md"
P=torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy
timeout 200 $PY benchmarks/tune_triton.py --out /tmp/tune_t1.json --budget-s 180 --group 16 --peers $P \
  --hidden 2880,7168,5125,6144,8192 --tokens 1 > /tmp/tune_t1.log 2>&1
xz -T0 -c /tmp/tune_t1.json > "$OUT/tune_t1.json.xz"; xz -T0 -c /tmp/tune_t1.log > "$OUT/tune_t1.log.xz"
grep -E "best|budget" /tmp/tune_t1.log | cut -c1-150
timeout 110 $PY benchmarks/tune_triton.py --out /tmp/tune_8192.json --budget-s 95 --group 16 \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy --hidden 8192 --tokens 32768,16384 --ops rms_norm \
  --plans c1024w4,c2048w8,c2048w16,c4096w8,c4096w16,c4096w32,c8192w16,c8192w32,r1w8,r1w16,r1w32 > /tmp/tune_8192.log 2>&1
xz -T0 -c /tmp/tune_8192.json > "$OUT/tune_8192.json.xz"; xz -T0 -c /tmp/tune_8192.log > "$OUT/tune_8192.log.xz"
grep -E "best|budget|Error" /tmp/tune_8192.log | cut -c1-150
echo "total $(( $(date +%s) - start )) s"
