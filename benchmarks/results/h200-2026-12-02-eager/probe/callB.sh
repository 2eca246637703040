set -u
source benchmarks/gpu_setup.sh
stage timing tests on the GPU
timeout 60 $PY -m pytest -p no:cacheprovider -q tests/test_timing.py tests/test_perf_checks.py 2>&1 | tail -1
stage eager probe
timeout 150 $PY .gpuwork/probe/eager_probe.py $OUT/eager_probe.json > $OUT/eager_probe.log 2>&1; grep -v Warn $OUT/eager_probe.log | tail -70
stage sweep, blocks after eager calls
t0=$(date +%s)
timeout 400 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 380 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms.log 2>&1; tail -2 $OUT/bench_norms.log
echo "sweep took $(( $(date +%s) - t0 )) s"
stage done
