set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/d
P="-p no:cacheprovider -q -m perf --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16"
stage perf checks again, seed 0
timeout 170 $PY -m pytest $P -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/d/perf-benchmark.json > $OUT/d/perf.log 2>&1; tail -3 $OUT/d/perf.log
for seed in 1 2; do
stage perf checks at T=32768, seed $seed
timeout 100 $PY -m pytest $P --normfusion-seed=$seed -k 'T32768 and (w_bf16-bias0 or w_fp32-bias1)' --benchmark-json=$OUT/d/perf-T32768-seed$seed.json > $OUT/d/perf-T32768-seed$seed.log 2>&1; tail -3 $OUT/d/perf-T32768-seed$seed.log
done
stage pack
tar -C $OUT -cJf $OUT/d.tar.xz d && rm -rf $OUT/d
stage done
