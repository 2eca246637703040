set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
timeout 75 $PY .gpuwork/probe/split_check.py 2>&1 | tail -3 | tee "$OUT/split_check.log"
timeout 110 $PY benchmarks/tune_triton.py --out /tmp/tune_t1.json --budget-s 85 --group 16 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy \
  --hidden 8192,5120,4096,6144,7168,2880,5125 --tokens 1 > /tmp/tune_t1.log 2>&1
xz -T0 -c /tmp/tune_t1.json > "$OUT/tune_t1.json.xz"; xz -T0 -c /tmp/tune_t1.log > "$OUT/tune_t1.log.xz"
grep -E "best" /tmp/tune_t1.log | cut -c1-150
