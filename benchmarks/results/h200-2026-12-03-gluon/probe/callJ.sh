# Call J (twelfth run): the Gluon probe again, beside FlashInfer's CuTe-DSL kernel (libs brought by J1, J2).
set -uo pipefail
source .gpuwork/probe/cute_setup.sh
stage gluon probe
cd .gpuwork/probe && timeout 300 $PY gluon_probe.py "$OUT/gluon_cute.json" 2>&1 | tee "$OUT/gluon_cute.log"
stage done
