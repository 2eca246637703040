set -u
source benchmarks/gpu_setup.sh
stage timing tests on the GPU
timeout 30 $PY -m pytest -p no:cacheprovider -q tests/test_timing.py 2>&1 | tail -1
stage recapture probe
timeout 60 $PY .gpuwork/probe/recapture_probe.py $OUT/recapture_probe.json > $OUT/recapture_probe.log 2>&1; grep -v Warn $OUT/recapture_probe.log | tail -10
stage sweep at T 128-1024, H 2048 6144 7168 8192
timeout 125 $PY benchmarks/bench_norms.py --out $OUT/bench_norms_mid.json --budget-s 110 --tokens 128,256,1024 --hidden 2048,6144,7168,8192 --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/bench_norms_mid.log 2>&1; tail -1 $OUT/bench_norms_mid.log
stage done
