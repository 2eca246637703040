set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
[ -f /tmp/tune_t1.json ] || { echo "no T=1 tune on this machine"; exit 0; }
$PY .gpuwork/probe/pick_t1.py /tmp/tune_t1.json impls/triton/plan.py > /dev/null
timeout 470 $PY benchmarks/bench_norms.py --out "$OUT/bench_norms.json" --quick --budget-s 430 --dtypes bf16,fp16 --pairings x:0,fp32:1 > /tmp/bench.log 2>&1
echo "bench exit $? in $(( $(date +%s) - start )) s"; tail -2 /tmp/bench.log; xz -T0 -c /tmp/bench.log > "$OUT/bench_norms.log.xz"
