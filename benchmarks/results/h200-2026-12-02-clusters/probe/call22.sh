set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
[ -f /tmp/tune_t1.json ] || { echo "no T=1 tune on this machine"; exit 0; }
$PY .gpuwork/probe/pick_t1.py /tmp/tune_t1.json impls/triton/plan.py | tee "$OUT/pick_t1.log"
git diff --stat impls/triton/plan.py
timeout 170 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=150 --normfusion-report="$OUT/cert-triton-full-seed0.json" > /tmp/conf.log 2>&1
echo "conformance exit $? in $(( $(date +%s) - start )) s" >> /tmp/conf.log
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 6
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full.log.xz"; [ -f "$OUT/cert-triton-full-seed0.json" ] && xz -T0 -9 "$OUT/cert-triton-full-seed0.json"
rm -f "$OUT/cert-triton-full-seed0.md"
timeout 150 $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json="$OUT/perf-benchmark.json" --session-timeout=130 > /tmp/perf.log 2>&1
grep -E "^\[failed\]|speedup 0|passed|failed" /tmp/perf.log | tail -6
xz -T0 -c /tmp/perf.log > "$OUT/perf.log.xz"; xz -T0 "$OUT/perf-benchmark.json"
echo "perf done at $(( $(date +%s) - start )) s"
timeout 120 $PY benchmarks/bench_norms.py --out "$OUT/bench_norms_t1.json" --tokens 1 --budget-s 100 --dtypes bf16,fp16 --pairings x:0,fp32:1 > /tmp/bench.log 2>&1
echo "bench exit $?"; tail -2 /tmp/bench.log; xz -T0 -c /tmp/bench.log > "$OUT/bench_norms_t1.log.xz"
echo "total $(( $(date +%s) - start )) s"
