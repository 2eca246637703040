set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/g
stage the changed cells, judged
timeout 70 $PY .gpuwork/probe/cells_probe.py > $OUT/g/cells_probe.log 2>&1; grep -v "PASSED" $OUT/g/cells_probe.log | grep -v Warn | tail -5
stage perf checks
timeout 90 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-dtypes=bf16 --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/g/perf-benchmark.json > $OUT/g/perf.log 2>&1; grep -h "speedup\|passed\|failed" $OUT/g/perf.log | tail -6
stage sweep at T 16384 32768, H 5120 7168 8192
timeout 85 $PY benchmarks/bench_norms.py --out $OUT/g/bench_norms_large.json --budget-s 70 --tokens 16384,32768 --hidden 8192,5120,7168 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/g/bench_norms_large.log 2>&1; tail -1 $OUT/g/bench_norms_large.log
stage pack
tar -C $OUT -cJf $OUT/g.tar.xz g && rm -rf $OUT/g
stage done
