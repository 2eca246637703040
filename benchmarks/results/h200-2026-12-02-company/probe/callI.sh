set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/i
stage blocks probe
timeout 130 $PY .gpuwork/probe/blocks_probe.py $OUT/i/blocks_probe.json > $OUT/i/blocks_probe.log 2>&1; grep -v Warn $OUT/i/blocks_probe.log | tail -50
stage sweep, blocked sampling
timeout 360 $PY benchmarks/bench_norms.py --out $OUT/bench_norms.json --budget-s 330 --quick --dtypes bf16,fp16 --pairings x:0,fp32:1 > $OUT/i/bench_norms.log 2>&1; tail -2 $OUT/i/bench_norms.log
stage pack
tar -C $OUT -cJf $OUT/i.tar.xz i && rm -rf $OUT/i
stage done
