set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
timeout 250 $PY benchmarks/tune_triton.py --out /tmp/tune_peers.json --budget-s 215 --group 12 \
  --peers torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy \
  --hidden 8192,2048 --tokens 256,1024 --dtypes bf16,fp16 > /tmp/tune_peers.log 2>&1
xz -T0 -c /tmp/tune_peers.json > "$OUT/tune_peers.json.xz"; xz -T0 -c /tmp/tune_peers.log > "$OUT/tune_peers.log.xz"
grep -E "best" /tmp/tune_peers.log | cut -c1-170
echo "total $(( $(date +%s) - start )) s"
