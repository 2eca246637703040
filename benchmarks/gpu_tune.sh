#!/usr/bin/env bash
# Launch plans and peers on one GPU, in one call (issue 14's first H200 run): the environment
# and copy bandwidth, a probe of the shipped torch-compile's graphs, Nsight Compute of the
# shapes under target (ncu_triton.py), then the launch-plan sweep (tune_triton.py) with every peer.
#   OUT=/some/dir [TUNE_S=300] [TUNE_FP32_S=60] [NCU=0] benchmarks/gpu_tune.sh
# Leaves under $OUT: tune.log, ncu_triton.csv.xz, tune_triton.json.xz, tune_fp32.json.xz.
set -uo pipefail
: "${OUT:?set OUT to the folder for results}"
cd "$(dirname "$0")/.."
exec > >(tee -a "$OUT/tune.log") 2>&1
source benchmarks/gpu_setup.sh
TUNE_S=${TUNE_S:-300} TUNE_FP32_S=${TUNE_FP32_S:-60}
PEERS=${PEERS:-torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger,copy_peer:Copy}

stage environment
$PY - <<'PYEOF'
import torch
from torch._dynamo.utils import counters
from pytest_normfusion import reference
from pytest_normfusion.certificate import environment
from pytest_normfusion.perf import stats, timing
from pytest_normfusion.impls.torch_compile import TorchCompile
print(environment.flat("cuda"), "l2", timing.l2_bytes("cuda"),
      "sms", torch.cuda.get_device_properties(0).multi_processor_count)
src = torch.empty(timing.COPY_BYTES, dtype=torch.uint8, device="cuda").fill_(1)
dst = torch.empty_like(src)
graphed = timing.sample_in_blocks([timing.prepare([lambda: dst.copy_(src)])])[0].summary.median
print(f"device copy: {timing.copy_bandwidth('cuda'):.0f} GB/s eager (the roofline), "
      f"{stats.gbps(2 * timing.COPY_BYTES, graphed):.0f} GB/s as a CUDA-graph memcpy node")
tc = TorchCompile()  # T dynamic, H static: 6 graphs for these 8 shapes
for t, h in ((1, 64), (7, 64), (33, 64), (1, 96), (9, 96), (50, 96), (3, 128), (5, 160)):
    x, w = torch.randn(t, h, device="cuda"), torch.randn(h, device="cuda")
    assert torch.allclose(tc.rms_norm(x, w, 1e-6), reference.rms_norm(x, w, 1e-6), atol=1e-5)
print("torch-compile probe:", torch.__version__, dict(counters["stats"]), "(6 unique graphs expected)")
PYEOF

if [ "${NCU:-1}" != 0 ]; then
  stage nsight compute
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  TORCHINDUCTOR_COMPILE_THREADS=1 timeout "${NCU_S:-150}" $NCU --clock-control none --nvtx --print-nvtx-rename kernel \
    --kernel-name 'regex:[Nn]orm|triton_' \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum \
    -o /tmp/ncu_triton -f \
    $PY benchmarks/ncu_triton.py --peers "${NCU_PEERS:-torch-compile,compile_peer:Static,liger_peer:Liger}" \
      --plans "${NCU_PLANS:-default,r1w16,c1024w4,c2048w4}" \
      --case rms_norm:fp32:1:16384:5120 --case rms_norm:bf16:0:32768:2048 --case fused_add_rms_norm:fp32:1:16384:5120
  $NCU --import /tmp/ncu_triton.ncu-rep --csv --page details --print-nvtx-rename kernel > /tmp/ncu_triton.csv \
    && xz -T0 -c /tmp/ncu_triton.csv > "$OUT/ncu_triton.csv.xz"
  $NCU --import /tmp/ncu_triton.ncu-rep --page details --print-nvtx-rename kernel --section SpeedOfLight 2>/dev/null \
    | grep -E '^  [^ ]|Duration|DRAM Throughput|Memory Throughput' | head -80
fi

stage triton launch plans, bf16 x
# shellcheck disable=SC2086
timeout "$TUNE_S" $PY benchmarks/tune_triton.py --out /tmp/tune_triton.json --budget-s $((TUNE_S - 40)) \
  --group 16 --peers "$PEERS" ${TUNE_ARGS:-}
xz -T0 -c /tmp/tune_triton.json > "$OUT/tune_triton.json.xz"
if [ "$TUNE_FP32_S" -gt 0 ]; then
  stage triton launch plans, fp32 x
  timeout "$TUNE_FP32_S" $PY benchmarks/tune_triton.py --out /tmp/tune_fp32.json --budget-s $((TUNE_FP32_S - 20)) \
    --group 16 --peers "$PEERS" --dtypes fp32 --pairings x:0 --hidden 5120,4096,8192,2048 --tokens 32768,4096
  xz -T0 -c /tmp/tune_fp32.json > "$OUT/tune_fp32.json.xz"
fi
stage done
ls -la "$OUT"
