set -u
source benchmarks/gpu_setup.sh
stage timing tests on the GPU
timeout 60 $PY -m pytest -p no:cacheprovider -q tests/test_timing.py tests/test_perf_checks.py 2>&1 | tail -1
stage alive probe
timeout 240 $PY .gpuwork/probe/alive_probe.py $OUT/alive_probe.json > $OUT/alive_probe.log 2>&1; grep -v Warn $OUT/alive_probe.log | tail -40
stage sweep at T 128-1024, H 2048 6144 7168 8192, one graph alive
t0=$(date +%s)
timeout 220 $PY benchmarks/bench_norms.py --out $OUT/bench_norms_mid.json --budget-s 200 --tokens 128,256,1024 --hidden 2048,6144,7168,8192 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms_mid.log 2>&1; tail -3 $OUT/bench_norms_mid.log
echo "sweep took $(( $(date +%s) - t0 )) s"
stage done
