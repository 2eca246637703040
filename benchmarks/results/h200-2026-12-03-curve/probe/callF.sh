# Call F (eleventh run): QuACK's RMSNorm and FlashInfer's CuTe-DSL norms, with nvidia-cutlass-dsl 4.8.1
# (libs-cu13) brought over in three calls to one machine (calls F1, F2 left its two parts in /tmp/cute).
set -uo pipefail
site=/tmp/normfusion-site
rm -rf "$site" && mkdir -p "$site"
# the wheels first: pip --target leaves a folder that exists alone (nvidia_cutlass_dsl/), tar merges into it
python3 -m pip install -q --no-index --no-deps --target "$site" .cute/c/*.whl || exit 1
cat /tmp/cute/part.* | tar -C "$site" -xJf - || { echo "cannot unpack the cu13 libraries"; exit 1; }
ls "$site/nvidia_cutlass_dsl/dsl_packages/cutlass" | head -5
source benchmarks/gpu_setup.sh
export PYTHONPATH=$site/nvidia_cutlass_dsl/dsl_packages:$PYTHONPATH
unset FLASHINFER_USE_CUDA_NORM
export PYTHONUNBUFFERED=1
stage import
timeout 120 $PY - <<'PY' 2>&1 | tee "$OUT/import.log"
import importlib.metadata as md, torch
import cutlass, quack.rmsnorm, flashinfer.norm as n
print("nvidia-cutlass-dsl", md.version("nvidia-cutlass-dsl-libs-base"), "quack", md.version("quack-kernels"),
      "flashinfer CUDA norm path:", n._use_cuda_norm(torch.device("cuda")))
x = torch.randn(256, 4096, device="cuda", dtype=torch.bfloat16); w = torch.rand(4096, device="cuda", dtype=torch.bfloat16)
ref = (x.double() * torch.rsqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-6) * w.double())
for name, y in (("quack", quack.rmsnorm.rmsnorm_fwd(x, w, eps=1e-6)[0]), ("flashinfer", n.rmsnorm(x, w, 1e-6))):
    print(name, "max abs error against fp64:", (y.double() - ref).abs().max().item())
PY
stage sweep
timeout 260 $PY benchmarks/bench_norms.py --out "$OUT/bench_cute.json" --budget-s 220 \
  --impls triton,flashinfer_cute_peer:FlashInferCute,quack_peer:Quack,copy_peer:Copy --dtypes bf16 \
  --pairings x:0,fp32:1 --hidden 4096,8192,2048,5120 --tokens 1,16,256,1024,4096,16384,32768 > "$OUT/bench_cute.log" 2>&1
tail -3 "$OUT/bench_cute.log"
stage conformance slice
timeout 100 $PY -m pytest -p no:cacheprovider -q -n 4 -m "not perf" --normfusion-impl=quack_peer:Quack \
  --normfusion-impl=flashinfer_cute_peer:FlashInferCute -k "bf16 and H4096" --normfusion-report="$OUT/cert-cute.json" \
  --session-timeout=90 > "$OUT/conformance-cute.log" 2>&1
tail -15 "$OUT/conformance-cute.log"
xz -9 "$OUT/bench_cute.log" "$OUT/conformance-cute.log"
stage done
