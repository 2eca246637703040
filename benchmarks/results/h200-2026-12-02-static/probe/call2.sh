set -uo pipefail
source benchmarks/gpu_setup.sh > /tmp/setup.log 2>&1
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
start=$(date +%s)
S=static_chunks:S4096w16,static_chunks:S2048w16,static_chunks:S2048w8
timeout 150 $PY benchmarks/tune_triton.py --out /tmp/probe_static.json --budget-s 130 --group 16 \
  --peers compile_peer:Static,copy_peer:Copy,$S --hidden 8192 --tokens 32768,16384 --ops rms_norm \
  --plans c4096w16,c2048w16,c2048w8 > /tmp/probe_static.log 2>&1
timeout 100 $PY benchmarks/tune_triton.py --out /tmp/probe_static2.json --budget-s 80 --group 16 --pairings x:0 \
  --peers compile_peer:Static,copy_peer:Copy,$S --hidden 4096,7168 --tokens 32768,16384 --ops fused_add_rms_norm \
  --plans c4096w16,c2048w16,c2048w8 > /tmp/probe_static2.log 2>&1
$PY - /tmp/probe_static.json /tmp/probe_static2.json <<'PY' > "$OUT/probe_static.json"
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
print(json.dumps({"meta": runs[0]["meta"], "records": [r for x in runs for r in x["records"]]}, indent=1))
PY
cat /tmp/probe_static.log /tmp/probe_static2.log | xz -T0 > "$OUT/probe_static.log.xz"
$PY - "$OUT/probe_static.json" <<'PY'
import json, sys, collections
by = collections.defaultdict(list)
for r in json.load(open(sys.argv[1]))["records"]:
    by[(r["op"][:9], r["weight_dtype"], r["hidden"], r["tokens"])].append((round(r["us"], 1), r["impl"]))
for k, v in by.items():
    print(k, sorted(v))
PY
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 120 $NCU --clock-control none --nvtx --print-nvtx-rename kernel --kernel-name 'regex:[Nn]orm|triton_|neg' \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats \
    -o /tmp/ncu8 -f $PY benchmarks/ncu_triton.py --peers copy_peer:Copy --plans default \
      --case rms_norm:bf16:0:1:5125 --case rms_norm:bf16:0:1:5120 --case fused_add_rms_norm:bf16:0:1:5125 \
      --case fused_add_rms_norm:bf16:0:1:5120 > /tmp/ncu8.log 2>&1
echo "ncu exit $?"
$NCU --import /tmp/ncu8.ncu-rep --csv --page details --print-nvtx-rename kernel > /tmp/ncu8.csv && xz -T0 -c /tmp/ncu8.csv > "$OUT/ncu_t1.csv.xz"
$NCU --import /tmp/ncu8.ncu-rep --page details --print-nvtx-rename kernel --section SpeedOfLight 2>/dev/null \
    | grep -E '^  [^ ]|Duration|Elapsed Cycles|SM Frequency' | head -40
echo "total $(( $(date +%s) - start )) s"
