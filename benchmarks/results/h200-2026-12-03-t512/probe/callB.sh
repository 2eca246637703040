# Call B (fifteenth run): the new cells judged as the suite judges a case (4 shards at once), the full
# matrix, the perf checks.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage cells
for i in 0 1 2 3; do
  timeout 200 $PY .gpuwork/probe/table_cells15.py $i 4 > "$OUT/table_cells_$i.log" 2>&1 &
done
wait
tail -qn 1 "$OUT"/table_cells_*.log; grep -h "FAILED\|ERROR\|Error" "$OUT"/table_cells_*.log | head -5
stage full matrix
timeout 130 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report="$OUT/cert-triton-full.json" > "$OUT/conformance-full.log" 2>&1
tail -3 "$OUT/conformance-full.log"
stage perf checks
timeout 150 $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/perf-benchmark.json --session-timeout=135 > $OUT/perf.log 2>&1
grep -E "passed|failed" $OUT/perf.log | tail -3
xz -9 "$OUT/conformance-full.log" "$OUT/perf.log" "$OUT/perf-benchmark.json" "$OUT/cert-triton-full.json"
stage done
