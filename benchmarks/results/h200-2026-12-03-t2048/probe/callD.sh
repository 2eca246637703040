# Call D (fourteenth run): replays of about 1 ms (as shipped) against about 5 ms, at 32-64 MiB.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage replay
timeout 300 $PY .gpuwork/probe/replay.py "$OUT/replay.json" > "$OUT/replay.log" 2>&1; cut -c1-600 "$OUT/replay.log" | grep -v Warn | tail -14
stage done
