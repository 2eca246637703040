set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/c
stage full matrix
timeout 180 $PY -m pytest -p no:cacheprovider -q -n 15 --normfusion-impl=triton --normfusion-full --normfusion-seed=0 --normfusion-report=$OUT/c/cert-triton-full-seed0.json > $OUT/c/conformance-full.log 2>&1; tail -2 $OUT/c/conformance-full.log
stage perf checks
timeout 100 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-dtypes=bf16 --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/c/perf-benchmark.json > $OUT/c/perf.log 2>&1; grep -h "passed\|failed" $OUT/c/perf.log | tail -3
stage cells beyond the matrix, judged
timeout 200 $PY .gpuwork/probe/cells_probe2.py > $OUT/c/cells_probe2.log 2>&1; grep -v "PASSED" $OUT/c/cells_probe2.log | grep -v Warn | tail -5
stage sweep at H 5125
timeout 90 $PY benchmarks/bench_norms.py --out $OUT/c/bench_norms_5125.json --budget-s 75 --quick --hidden 5125 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/c/bench_norms_5125.log 2>&1; tail -1 $OUT/c/bench_norms_5125.log
stage pack
xz -9 $OUT/c/cert-triton-full-seed0.json
tar -C $OUT -cJf $OUT/c.tar.xz c && rm -rf $OUT/c
stage done
