set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/e
P="-p no:cacheprovider -q -m perf --normfusion-dtypes=bf16"
K="(T32768 or T4096) and (w_bf16-bias0 or w_fp32-bias1)"
stage placement probe
timeout 120 $PY .gpuwork/probe/placement_probe.py $OUT/e/placement_probe.json > $OUT/e/placement_probe.log 2>&1; grep -v Warn $OUT/e/placement_probe.log | tail -10
stage perf checks, triton against itself
timeout 150 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin -k "$K" --benchmark-json=$OUT/e/twin-triton.json > $OUT/e/twin-triton.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/e/twin-triton.log | tail -12
stage perf checks, torch-compile against itself
timeout 150 $PY -m pytest $P --normfusion-impl=torch-compile --normfusion-perf-peers=twin_peer:CompileTwin -k "$K" --benchmark-json=$OUT/e/twin-compile.json > $OUT/e/twin-compile.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/e/twin-compile.log | tail -12
stage pack
tar -C $OUT -cJf $OUT/e.tar.xz e && rm -rf $OUT/e
stage done
