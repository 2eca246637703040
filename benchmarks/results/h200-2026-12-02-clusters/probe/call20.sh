set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
for m in patch native rank override; do timeout 60 $PY .gpuwork/probe/cl_launch.py $m 2>&1 | tail -2; done
start=$(date +%s)
timeout 230 $PY .gpuwork/probe/cluster_prod_check.py > /tmp/cluster_check.log 2>&1; rc=$?; echo "check exit $rc"
tail -5 /tmp/cluster_check.log | cut -c1-700 | tee "$OUT/cluster_prod_check.log"
[ $rc = 0 ] || { tail -30 /tmp/cluster_check.log | cut -c1-300; exit 0; }
echo "check done at $(( $(date +%s) - start )) s"
specs=$($PY -c "print(','.join(f'r1w{w}k{k}' for ks, ws in (((2,), (4, 8)), ((3, 4), (2, 4, 8)), ((5, 6, 7, 8), (1, 2, 4))) for k in ks for w in ws))")
timeout 250 $PY benchmarks/tune_triton.py --out /tmp/tune_t1.json --budget-s 225 --group 16 \
  --peers copy_peer:Copy --dtypes bf16 --plans "default,$specs" \
  --hidden 8192,5120,7168,6144,5125,2880 --tokens 1 > /tmp/tune_t1.log 2>&1
xz -T0 -c /tmp/tune_t1.json > "$OUT/tune_t1_clusters.json.xz"; xz -T0 -c /tmp/tune_t1.log > "$OUT/tune_t1_clusters.log.xz"
grep -E "best" /tmp/tune_t1.log | cut -c1-150
grep -iE "error|Traceback" /tmp/tune_t1.log /tmp/cluster_check.log | head -5
echo "total $(( $(date +%s) - start )) s"
