# Call B (thirteenth run): the sweep's timing with and without the lead sleep (lead.py), the timelines
# (timeline.py, torch.neg fixed), the staged kernel with its block masked: checked (staged_check.py)
# and tuned at rms_norm H 2880, 5120, 6144, 7168.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage staged check
timeout 120 $PY .gpuwork/probe/staged_check.py > "$OUT/staged_check.log" 2>&1; tail -3 "$OUT/staged_check.log"
stage lead
timeout 200 $PY .gpuwork/probe/lead.py "$OUT/lead.json" > "$OUT/lead.log" 2>&1; tail -12 "$OUT/lead.log"
stage timeline
timeout 150 $PY .gpuwork/probe/timeline.py "$OUT/timeline.json.xz" > "$OUT/timeline.log" 2>&1; grep -v ends "$OUT/timeline.log" | cut -c1-400 | tail -30
stage tune staged
timeout 150 $PY benchmarks/tune_triton.py --out "$OUT/tune_staged_odd.json" --budget-s 120 --ops rms_norm \
  --hidden 5120,7168,6144,2880 --tokens 1024,2048,4096,16384 --pairings x:0,fp32:1 --plans r1w4g,r1w8g,r1w16g \
  --peers copy_peer:Copy > "$OUT/tune_staged_odd.log" 2>&1
grep -v "^ " "$OUT/tune_staged_odd.log" | tail -32
stage done
