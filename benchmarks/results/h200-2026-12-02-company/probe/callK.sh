set -u
source benchmarks/gpu_setup.sh
stage order probe
timeout 150 $PY .gpuwork/probe/order_probe.py $OUT/order_probe.json > $OUT/order_probe.log 2>&1; grep -v Warn $OUT/order_probe.log | tail -40
stage done
