set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 90 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=80 --normfusion-report="$OUT/cert-triton-full-seed0-call5.json" > /tmp/conf.log 2>&1
echo "conformance exit $? in $(( $(date +%s) - start )) s" >> /tmp/conf.log
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 2
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full-call5.log.xz"; xz -T0 -9 "$OUT/cert-triton-full-seed0-call5.json"; rm -f "$OUT"/*.md
timeout 170 $PY benchmarks/bench_norms.py --out "$OUT/bench_norms_6144_7168.json" --quick --budget-s 150 \
  --hidden 6144,7168 --dtypes bf16,fp16 --pairings x:0,fp32:1 > /tmp/bench.log 2>&1
tail -2 /tmp/bench.log
echo "total $(( $(date +%s) - start )) s"
