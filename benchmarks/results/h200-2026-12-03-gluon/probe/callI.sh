# Call I (twelfth run): a Gluon rms_norm with x staged in shared memory, beside ours and the copy kernel.
set -uo pipefail
source benchmarks/gpu_setup.sh
stage gluon probe
cd .gpuwork/probe && timeout 300 $PY gluon_probe.py "$OUT/gluon_probe.json" 2>&1 | tee "$OUT/gluon_probe.log"
stage done
