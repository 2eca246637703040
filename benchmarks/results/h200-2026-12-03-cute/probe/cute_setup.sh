# Sourced by callH3/H4: nvidia-cutlass-dsl 4.8.1 (its cu13 libraries in two parts under /tmp/cute, brought by
# calls H1 and H2), QuACK and the FlashInfer bundle; FlashInfer on its CuTe-DSL norms.
site=/tmp/normfusion-site
if [ ! -d "$site/nvidia_cutlass_dsl/dsl_packages/cutlass" ]; then
  rm -rf "$site" && mkdir -p "$site"
  # the wheels first: pip --target leaves a folder that exists alone (nvidia_cutlass_dsl/), tar merges into it
  python3 -m pip install -q --no-index --no-deps --target "$site" .cute/c/*.whl || exit 1
  cat /tmp/cute/part.* | tar -C "$site" -xJf - || { echo "cannot unpack the cu13 libraries"; exit 1; }
fi
source benchmarks/gpu_setup.sh
export PYTHONPATH=$site/nvidia_cutlass_dsl/dsl_packages:$PYTHONPATH
unset FLASHINFER_USE_CUDA_NORM
export PYTHONUNBUFFERED=1
