set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
start=$(date +%s)
timeout 120 $PY .gpuwork/probe/heads_check.py 2>&1 | tail -3 | tee "$OUT/heads_check.log"
echo "check in $(( $(date +%s) - start )) s"
timeout 330 $PY benchmarks/tune_triton.py --out /tmp/tune_heads.json --budget-s 290 --group 16 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy \
  --plans r1w4av,r1w8av,r1w16av,r1w4a,r1w8a,r1w16a,r1w4p4a,r1w8p2a,r1w4p2a --hidden 5125 --tokens 32768,16384,4096,1024,256,16 > /tmp/tune_heads.log 2>&1
xz -T0 -c /tmp/tune_heads.json > "$OUT/tune_heads.json.xz"; xz -T0 -c /tmp/tune_heads.log > "$OUT/tune_heads.log.xz"
grep -E "best" /tmp/tune_heads.log | cut -c1-160
grep -iE "error|Traceback" /tmp/tune_heads.log | head -5
echo "total $(( $(date +%s) - start )) s"
