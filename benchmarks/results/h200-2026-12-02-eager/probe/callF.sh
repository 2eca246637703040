set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/f
P="-p no:cacheprovider -q -m perf --normfusion-dtypes=bf16"
K="(T32768 or T4096) and (w_bf16-bias0 or w_fp32-bias1)"
stage perf checks, triton against itself
timeout 150 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin -k "$K" --benchmark-json=$OUT/f/twin-triton.json > $OUT/f/twin-triton.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/f/twin-triton.log | tail -6
stage perf checks, torch-compile against itself
timeout 150 $PY -m pytest $P --normfusion-impl=torch-compile --normfusion-perf-peers=twin_peer:CompileTwin -k "$K" --benchmark-json=$OUT/f/twin-compile.json > $OUT/f/twin-compile.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/f/twin-compile.log | tail -6
stage perf checks
timeout 170 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/f/perf-benchmark.json > $OUT/f/perf.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/f/perf.log | tail -6
stage pack
tar -C $OUT -cJf $OUT/f.tar.xz f && rm -rf $OUT/f
stage done
