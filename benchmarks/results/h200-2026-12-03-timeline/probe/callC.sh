# Call C (thirteenth run): the table's new staged cells judged as the suite judges a case (table_cells.py),
# the full matrix, the perf checks, and the sweep at the T that look up the changed cells (rms_norm and
# fused_add alike, every peer).
set -uo pipefail
source benchmarks/gpu_setup.sh
stage cells
timeout 120 $PY .gpuwork/probe/table_cells.py > "$OUT/table_cells.log" 2>&1; tail -3 "$OUT/table_cells.log"
stage full matrix
timeout 130 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report="$OUT/cert-triton-full.json" > "$OUT/conformance-full.log" 2>&1
tail -3 "$OUT/conformance-full.log"
stage perf checks
timeout 150 $PY -m pytest -p no:cacheprovider -q -rf -m perf --normfusion-impl=triton \
  --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 \
  -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/perf-benchmark.json --session-timeout=135 > $OUT/perf.log 2>&1
grep -E "passed|failed" $OUT/perf.log | tail -3
stage sweep T 1024-4096
timeout 170 $PY benchmarks/bench_norms.py --out $OUT/bench_cells.json --budget-s 150 --tokens 1024,2048,4096 \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_cells.log 2>&1; tail -2 $OUT/bench_cells.log
xz -9 "$OUT/conformance-full.log" "$OUT/perf.log" "$OUT/perf-benchmark.json" "$OUT/bench_cells.log"
stage done
