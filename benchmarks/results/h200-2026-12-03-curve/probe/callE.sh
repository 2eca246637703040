# Call E (eleventh run): time against T near 4096 at H 8192, our two plans and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage tail probe
timeout 300 $PY .gpuwork/probe/tail_probe.py "$OUT/tail_probe.json" 2>&1 | tee "$OUT/tail_probe.log"
