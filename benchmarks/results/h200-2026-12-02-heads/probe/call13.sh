set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
cd .gpuwork/probe && timeout 100 $PY probe_check.py 2>&1 | tail -4 | tee "$OUT/probe_check.log"; cd ../..
timeout 200 $PY benchmarks/tune_triton.py --out /tmp/tune_ex.json --budget-s 160 --group 16 \
  --peers exchange:Ex256w1,exchange:Ex512w2,exchange:Ex1024w4,exchange:Ex2048w8,exchange:Bound512w2,exchange:Bound1024w4,exchange:Floor,copy_peer:Copy \
  --plans r1w4s8,r1w8s4 --hidden 8192,5120,6144,7168,4096 --tokens 1 > /tmp/tune_ex.log 2>&1
xz -T0 -c /tmp/tune_ex.json > "$OUT/tune_exchange.json.xz"; xz -T0 -c /tmp/tune_ex.log > "$OUT/tune_exchange.log.xz"
grep -E "best" /tmp/tune_ex.log | cut -c1-150
timeout 200 $PY benchmarks/tune_triton.py --out /tmp/tune_sh.json --budget-s 160 --group 16 \
  --peers shifted:Sh4,shifted:Sh8,shifted:Sh16,shifted:Sh8f,shifted:Pre4,shifted:Pre8,shifted:Pre16,copy_peer:Copy,compile_peer:Static \
  --plans r1w4p4a,r1w4a,r1w8a --hidden 5125 --tokens 32768,16384,4096,1024 > /tmp/tune_sh.log 2>&1
xz -T0 -c /tmp/tune_sh.json > "$OUT/tune_shifted.json.xz"; xz -T0 -c /tmp/tune_sh.log > "$OUT/tune_shifted.log.xz"
grep -E "best" /tmp/tune_sh.log | cut -c1-150
grep -iE "error|Traceback" /tmp/tune_ex.log /tmp/tune_sh.log | head -5
