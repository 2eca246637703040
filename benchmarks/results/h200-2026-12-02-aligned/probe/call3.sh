set -uo pipefail
exec > >(tee -a "$OUT/call3.log") 2>&1
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
PEERS=torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy
stage tune 5125, aligned body looping
timeout 170 $PY benchmarks/tune_triton.py --out /tmp/tune_5125.json --budget-s 140 --group 16 --peers $PEERS --hidden 5125
xz -T0 -c /tmp/tune_5125.json > "$OUT/tune_5125.json.xz"
stage probe chunked variants
timeout 90 $PY benchmarks/tune_triton.py --out /tmp/probe.json --budget-s 70 --group 16 --plans c4096w16,c2048w16,default \
  --peers torch-compile,compile_peer:Static,var_chunks:Base,var_chunks:NoPdl,var_chunks:I32,var_chunks:WLast,var_chunks:All,var_chunks:NoPdlI32 \
  --hidden 8192,6144 --tokens 32768,16384 --pairings x:0
xz -T0 -c /tmp/probe.json > "$OUT/probe_chunks.json.xz"
stage tune 2048
timeout 60 $PY benchmarks/tune_triton.py --out /tmp/tune_2048.json --budget-s 45 --group 16 --peers $PEERS --hidden 2048 --tokens 1024,16384
xz -T0 -c /tmp/tune_2048.json > "$OUT/tune_2048.json.xz"
stage done
