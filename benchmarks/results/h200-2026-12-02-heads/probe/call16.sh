set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 150 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=130 --normfusion-report="$OUT/cert-triton-full-seed0.json" > /tmp/conf.log 2>&1
echo "conformance exit $? in $(( $(date +%s) - start )) s" >> /tmp/conf.log
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 6
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full.log.xz"; [ -f "$OUT/cert-triton-full-seed0.json" ] && xz -T0 -9 "$OUT/cert-triton-full-seed0.json"
rm -f "$OUT/cert-triton-full-seed0.md"
CONFORMANCE_S=0 PERF_S=130 BENCH_S=230 BENCH_ARGS="--dtypes bf16,fp16 --pairings x:0,fp32:1 --hidden 5125" benchmarks/gpu_run.sh > /dev/null 2>&1
grep -E "passed|failed" "$OUT/run.log" | tail -3
rm -f "$OUT/performance.md" "$OUT/performance.png"
echo "total $(( $(date +%s) - start )) s"
