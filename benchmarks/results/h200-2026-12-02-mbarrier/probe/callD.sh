set -u
source benchmarks/gpu_setup.sh
stage T=1 sweep
timeout 200 $PY benchmarks/bench_norms.py --out $OUT/bench_norms_t1.json --tokens 1 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms_t1.log 2>&1; tail -2 $OUT/bench_norms_t1.log
stage perf checks
timeout 200 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/perf-benchmark.json > $OUT/perf.log 2>&1; tail -3 $OUT/perf.log
stage full matrix
timeout 180 $PY -m pytest -p no:cacheprovider -q -n 15 --normfusion-impl=triton --normfusion-full --normfusion-seed=0 --normfusion-report=$OUT/cert-triton-full-seed0.json > $OUT/conformance-full.log 2>&1; tail -3 $OUT/conformance-full.log
stage pdl probe
timeout 250 $PY .gpuwork/probe/pdl_probe.py $OUT/pdl_probe.json > $OUT/pdl_probe.log 2>&1; grep -c PDL $OUT/pdl_probe.log
stage done
