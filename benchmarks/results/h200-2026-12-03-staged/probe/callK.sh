# Call K (twelfth run): the table's rms_norm 1024 x 8192 cell on the staged kernel (r1w8g): the cases that
# look it up judged as the suite judges them, the full matrix, and a sweep at H 8192 beside every peer and the
# CuTe-DSL peers (nvidia-cutlass-dsl brought by K1, K2).
set -uo pipefail
source .gpuwork/probe/cute_setup.sh
stage cells
timeout 150 $PY .gpuwork/probe/staged_cells.py > "$OUT/staged_cells.log" 2>&1; tail -2 "$OUT/staged_cells.log"
stage full matrix
timeout 200 $PY -m pytest -p no:cacheprovider -q -n 15 -m "not perf" --normfusion-impl=triton --normfusion-full \
  --normfusion-seed=0 --normfusion-report="$OUT/cert-triton-full.json" > "$OUT/conformance-full.log" 2>&1
tail -3 "$OUT/conformance-full.log"
stage sweep H 8192
timeout 200 $PY benchmarks/bench_norms.py --out "$OUT/bench_staged.json" --budget-s 170 \
  --impls triton,torch-compile,flashinfer_cute_peer:FlashInferCute,quack_peer:Quack,liger_peer:Liger,copy_peer:Copy \
  --dtypes bf16,fp16 --pairings x:0,fp32:1 --hidden 8192 --tokens 1,16,256,1024,4096 > "$OUT/bench_staged.log" 2>&1
tail -2 "$OUT/bench_staged.log"
xz -9 "$OUT/conformance-full.log" "$OUT/bench_staged.log"
stage done
