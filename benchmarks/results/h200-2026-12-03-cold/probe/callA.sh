set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/a
P="-p no:cacheprovider -q -m perf --normfusion-dtypes=bf16"
K="w_bf16-bias0 or w_fp32-bias1"
stage perf checks
timeout 150 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k "$K" --benchmark-json=$OUT/a/perf-benchmark.json > $OUT/a/perf.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/a/perf.log | tail -8
stage tune at T 4096, clusters and split rows
timeout 150 $PY benchmarks/tune_triton.py --out $OUT/a/tune_4096_clusters.json --budget-s 130 --peers copy_peer:Copy --ops rms_norm,fused_add_rms_norm --dtypes bf16 --pairings fp32:1,x:0 --hidden 8192,5120,7168,6144,4096 --tokens 4096 --plans r1w4k2,r1w8k2,r1w16k2,r1w2k3,r1w4k3,r1w8k3,r1w2k4,r1w4k4,r1w8k4,r1w2k7,r1w4k7,r1w4k8,r1w2k8,r1w8s2,r1w16s2,r1w8s2u,r1w16s2u,r1w4s4,r1w8s4,r1w4s4u,r1w8s4u > $OUT/a/tune.log 2>&1; grep -v Warn $OUT/a/tune.log | tail -22
stage twin checks, triton against itself, 64 shapes
timeout 120 $PY -m pytest $P --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin -k "$K" --benchmark-json=$OUT/a/twin-triton.json > $OUT/a/twin-triton.log 2>&1; grep -h "passed\|failed" $OUT/a/twin-triton.log | tail -8
stage twin checks, torch-compile against itself, 64 shapes
timeout 120 $PY -m pytest $P --normfusion-impl=torch-compile --normfusion-perf-peers=twin_peer:CompileTwin -k "$K" --benchmark-json=$OUT/a/twin-compile.json > $OUT/a/twin-compile.log 2>&1; grep -h "passed\|failed" $OUT/a/twin-compile.log | tail -8
stage pack
tar -C $OUT -cJf $OUT/a.tar.xz a && rm -rf $OUT/a
stage done
