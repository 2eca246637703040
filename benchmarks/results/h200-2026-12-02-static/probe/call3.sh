set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 75 $PY benchmarks/tune_triton.py --out /tmp/tune_5125_small.json --budget-s 60 --group 16 \
  --peers torch-compile,compile_peer:Static,copy_peer:Copy --hidden 5125 --tokens 1,16,256 > /tmp/tune_5125_small.log 2>&1
xz -T0 -c /tmp/tune_5125_small.json > "$OUT/tune_5125_small.json.xz"
grep -E "best|budget" /tmp/tune_5125_small.log | cut -c1-150
timeout 100 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=90 --normfusion-report="$OUT/cert-triton-full-seed0.json" > /tmp/conf.log 2>&1
echo "conformance exit $? in $(( $(date +%s) - start )) s" >> /tmp/conf.log
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 3
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full.log.xz"; [ -f "$OUT/cert-triton-full-seed0.json" ] && xz -T0 -9 "$OUT/cert-triton-full-seed0.json"
rm -f "$OUT/cert-triton-full-seed0.md"
CONFORMANCE_S=0 PERF_S=130 BENCH_S=250 BENCH_ARGS="--dtypes bf16,fp16 --pairings x:0,fp32:1" benchmarks/gpu_run.sh > /dev/null 2>&1
xz -T0 -9 "$OUT/perf-benchmark.json"
grep -E "passed|failed|FAILED" "$OUT/run.log" | tail -8
tail -c 1500 "$OUT/run.log"
echo "total $(( $(date +%s) - start )) s"
