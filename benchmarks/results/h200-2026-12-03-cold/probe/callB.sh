set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/b
P="-p no:cacheprovider -p sets_probe -q -m perf --normfusion-dtypes=bf16"
K="T256x and (w_bf16-bias0 or w_fp32-bias1)"
for sets in 8 64; do for seed in 1 2; do
stage twins at T 256, sets $sets, seed $seed
NF_MAX_SETS=$sets timeout 60 $PY -m pytest $P --normfusion-seed=$seed --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin -k "$K" --benchmark-json=$OUT/b/twin-triton-sets$sets-seed$seed.json > $OUT/b/twin-triton-sets$sets-seed$seed.log 2>&1; tail -1 $OUT/b/twin-triton-sets$sets-seed$seed.log
NF_MAX_SETS=$sets timeout 60 $PY -m pytest $P --normfusion-seed=$seed --normfusion-impl=torch-compile --normfusion-perf-peers=twin_peer:CompileTwin -k "$K" --benchmark-json=$OUT/b/twin-compile-sets$sets-seed$seed.json > $OUT/b/twin-compile-sets$sets-seed$seed.log 2>&1; tail -1 $OUT/b/twin-compile-sets$sets-seed$seed.log
done; done
stage perf checks at T 256, sets 64
NF_MAX_SETS=64 timeout 90 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k "$K" --benchmark-json=$OUT/b/perf-sets64.json > $OUT/b/perf-sets64.log 2>&1; tail -1 $OUT/b/perf-sets64.log
stage pack
tar -C $OUT -cJf $OUT/b.tar.xz b && rm -rf $OUT/b
stage done
