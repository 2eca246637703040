set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/c
stage timing tests on the GPU
timeout 60 $PY -m pytest -p no:cacheprovider -q tests/test_timing.py tests/test_perf_checks.py 2>&1 | tail -1
stage perf checks
timeout 170 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/c/perf-benchmark.json > $OUT/c/perf.log 2>&1; tail -4 $OUT/c/perf.log
stage full matrix
timeout 180 $PY -m pytest -p no:cacheprovider -q -n 15 --normfusion-impl=triton --normfusion-full --normfusion-seed=0 --normfusion-report=$OUT/c/cert-triton-full-seed0.json > $OUT/c/conformance-full.log 2>&1; tail -2 $OUT/c/conformance-full.log
stage tune at T 4096 and 16384, rms_norm bf16, H 5120 5125 6144 7168 8192
timeout 170 $PY benchmarks/tune_triton.py --out $OUT/c/tune_4096.json --budget-s 150 --peers copy_peer:Copy --ops rms_norm --dtypes bf16 --pairings fp32:1,x:0 --hidden 5125,5120,6144,7168,8192 --tokens 4096,16384 > $OUT/c/tune.log 2>&1; grep -v Warn $OUT/c/tune.log | tail -30
stage pack
tar -C $OUT -cJf $OUT/c.tar.xz c && rm -rf $OUT/c
stage done
