set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 150 $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json="$OUT/perf-benchmark-rerun.json" --session-timeout=130 > /tmp/perf.log 2>&1
grep -E "^\[failed\]|speedup 0|passed|failed" /tmp/perf.log | tail -6
xz -T0 -c /tmp/perf.log > "$OUT/perf-rerun.log.xz"; xz -T0 "$OUT/perf-benchmark-rerun.json"
echo "perf in $(( $(date +%s) - start )) s"
timeout 170 $PY benchmarks/tune_triton.py --out /tmp/tune_f8192.json --budget-s 140 --group 16 --ops fused_add_rms_norm \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy \
  --plans c4096w16,c4096w8,c2048w16,c2048w8,c1024w8,c1024w4,r1w16,r1w32,r2w16 --hidden 8192 --tokens 32768,16384 > /tmp/tune_f8192.log 2>&1
xz -T0 -c /tmp/tune_f8192.json > "$OUT/tune_fused_8192.json.xz"; xz -T0 -c /tmp/tune_f8192.log > "$OUT/tune_fused_8192.log.xz"
grep -E "best" /tmp/tune_f8192.log | cut -c1-160
echo "total $(( $(date +%s) - start )) s"
