# Call C (fourteenth run): the new cells judged in full (call B's check ran out of time), the full matrix,
# the perf checks.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage cells
timeout 240 $PY .gpuwork/probe/table_cells14.py > "$OUT/table_cells.log" 2>&1; tail -2 "$OUT/table_cells.log"
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
