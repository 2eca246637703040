set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/j
stage perf checks, blocked sampling
timeout 150 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/j/perf-benchmark.json > $OUT/j/perf.log 2>&1; tail -4 $OUT/j/perf.log
stage full matrix
timeout 180 $PY -m pytest -p no:cacheprovider -q -n 15 --normfusion-impl=triton --normfusion-full --normfusion-seed=0 --normfusion-report=$OUT/j/cert-triton-full-seed0.json > $OUT/j/conformance-full.log 2>&1; tail -2 $OUT/j/conformance-full.log
stage pack
tar -C $OUT -cJf $OUT/j.tar.xz j && rm -rf $OUT/j
stage done
