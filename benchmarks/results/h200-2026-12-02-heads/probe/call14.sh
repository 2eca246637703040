set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
start=$(date +%s)
printf '%s\n' 2048 2880 4096 5120 5125 6144 7168 8192 | xargs -P 8 -I{} sh -c "timeout 200 $PY .gpuwork/probe/cluster_check.py {} > /tmp/cc_{}.log 2>&1; echo rc=\$? >> /tmp/cc_{}.log"
cat /tmp/cc_*.log | grep -E "^H=|rc=|Error|assert" | tee "$OUT/cluster_check.log"
echo "checks in $(( $(date +%s) - start )) s"
P=r1w8k2,r1w16k2,r1w4k4,r1w8k4,r1w2k8,r1w4k8,r1w8k2u,r1w16k2u,r1w4k4u,r1w8k4u,r1w2k8u,r1w4k8u
timeout 230 $PY benchmarks/tune_triton.py --out /tmp/tune_k.json --budget-s 200 --group 16 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy \
  --plans $P --hidden 8192,5120,6144,7168,4096,2880,2048 --tokens 1 > /tmp/tune_k.log 2>&1
timeout 80 $PY benchmarks/tune_triton.py --out /tmp/tune_ka.json --budget-s 50 --group 16 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy \
  --plans r1w8k2a,r1w16k2a,r1w4k4a,r1w8k4a,r1w2k8a,r1w4k8a,r1w8a --hidden 5125 --tokens 1 > /tmp/tune_ka.log 2>&1
for f in tune_k tune_ka; do xz -T0 -c /tmp/$f.json > "$OUT/$f.json.xz"; xz -T0 -c /tmp/$f.log > "$OUT/$f.log.xz"; grep -E "best" /tmp/$f.log | cut -c1-150; done
grep -iE "error|Traceback" /tmp/tune_k.log /tmp/tune_ka.log | head -5
echo "total $(( $(date +%s) - start )) s"
