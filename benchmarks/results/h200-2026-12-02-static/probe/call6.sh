set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
start=$(date +%s)
P=torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy
timeout 40 $PY benchmarks/tune_triton.py --out /tmp/t1024.json --budget-s 25 --group 16 --peers $P \
  --hidden 2048 --tokens 1024 --ops rms_norm --pairings fp32:1 > /tmp/t1024.log 2>&1
timeout 150 $PY benchmarks/tune_triton.py --out /tmp/t4096.json --budget-s 130 --group 16 --peers $P \
  --hidden 8192,6144,7168,5120,4096 --tokens 4096 --ops rms_norm --pairings fp32:1,x:0 > /tmp/t4096.log 2>&1
$PY - /tmp/t1024.json /tmp/t4096.json <<'PY' > "$OUT/tune_rms_mid.json"
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
print(json.dumps({"meta": runs[0]["meta"], "records": [r for x in runs for r in x["records"]],
                  "summary": [s for x in runs for s in x["summary"]]}, indent=1))
PY
xz -T0 -9 "$OUT/tune_rms_mid.json"
grep -hE "best|budget" /tmp/t1024.log /tmp/t4096.log | cut -c1-150
echo "total $(( $(date +%s) - start )) s"
