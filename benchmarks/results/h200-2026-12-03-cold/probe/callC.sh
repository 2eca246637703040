set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/c
P="-p no:cacheprovider -q -m perf --normfusion-dtypes=bf16"
K="w_bf16-bias0 or w_fp32-bias1"
twins() {  # name, extra args...
  local name=$1; shift
  timeout 90 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin "$@" --benchmark-json=$OUT/c/twin-triton-$name.json > $OUT/c/twin-triton-$name.log 2>&1; tail -1 $OUT/c/twin-triton-$name.log
  timeout 90 $PY -m pytest $P --normfusion-impl=torch-compile --normfusion-perf-peers=twin_peer:CompileTwin "$@" --benchmark-json=$OUT/c/twin-compile-$name.json > $OUT/c/twin-compile-$name.log 2>&1; tail -1 $OUT/c/twin-compile-$name.log
}
stage twins, 64 shapes, seed 1
twins quick-seed1 --normfusion-seed=1 -k "$K"
stage twins, T 16 64 1024, seed 0
twins mid-seed0 --normfusion-full -k "(T16x or T64x or T1024x) and ($K)"
stage twins, 64 shapes, seed 2
twins quick-seed2 --normfusion-seed=2 -k "$K"
stage perf checks
timeout 120 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k "$K" --benchmark-json=$OUT/c/perf-benchmark.json > $OUT/c/perf.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/c/perf.log | tail -8
stage pack
tar -C $OUT -cJf $OUT/c.tar.xz c && rm -rf $OUT/c
stage done
