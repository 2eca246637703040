set -uo pipefail
exec > >(tee -a "$OUT/call2.log") 2>&1
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
stage conformance full triton
start=$(date +%s)
timeout 170 $PY -m pytest -p no:cacheprovider -q -rfE -n 15 --normfusion-full --normfusion-impl=triton --normfusion-seed=0 \
  --session-timeout=150 --normfusion-report="$OUT/cert-triton-full-seed0.json" > /tmp/conf.log 2>&1
echo "exit $? in $(( $(date +%s) - start )) s"
grep -v '^\.*\( *\[ *[0-9]*%\]\)\?$' /tmp/conf.log | tail -n 25
xz -T0 -c /tmp/conf.log > "$OUT/conformance-full.log.xz"; [ -f "$OUT/cert-triton-full-seed0.json" ] && xz -T0 -9 "$OUT/cert-triton-full-seed0.json"
rm -f "$OUT/cert-triton-full-seed0.md"
PEERS=torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy
stage tune 5125
timeout 150 $PY benchmarks/tune_triton.py --out /tmp/tune_5125.json --budget-s 115 --group 16 --peers $PEERS --hidden 5125
xz -T0 -c /tmp/tune_5125.json > "$OUT/tune_5125.json.xz"
stage tune large T, chunked old and new
timeout 170 $PY benchmarks/tune_triton.py --out /tmp/tune_large.json --budget-s 140 --group 16 \
  --peers $PEERS,old_chunks:C2048w8,old_chunks:C2048w16,old_chunks:C4096w16,old_chunks:C4096w8 \
  --hidden 8192,4096,6144,2048 --tokens 32768,16384
xz -T0 -c /tmp/tune_large.json > "$OUT/tune_large.json.xz"
stage done
