# Call A (thirteenth run): program timelines at T = 4096 (timeline.py), and the staged kernel tuned at
# rms_norm H 2048, 4096 and 8192 beside the table's plan and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage timeline
timeout 200 $PY .gpuwork/probe/timeline.py "$OUT/timeline.json.xz" > "$OUT/timeline.log" 2>&1; tail -4 "$OUT/timeline.log"
stage tune staged
for spec in "2048 r1w2g,r1w4g,r1w8g 1024,2048,4096,16384" "4096 r1w4g,r1w8g,r1w16g 256,1024,2048,4096,16384" \
            "8192 r1w4g,r1w8g,r1w16g,r1w32g 256,1024,2048,4096,16384"; do
  set -- $spec
  timeout 150 $PY benchmarks/tune_triton.py --out "$OUT/tune_staged_$1.json" --budget-s 110 --ops rms_norm \
    --hidden $1 --tokens $3 --pairings x:0,fp32:1 --plans $2 --peers copy_peer:Copy > "$OUT/tune_staged_$1.log" 2>&1
  grep -v "^ " "$OUT/tune_staged_$1.log" | tail -12
done
stage done
