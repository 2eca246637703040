# Sourced by the GPU scripts: the environment, and the FlashInfer bundle and wheels of
# .whl/ installed into /tmp/normfusion-site (the GPU hosts reach no package index).
# Leaves PY (the python) and stage (a log heading) defined.

# NVLink multicast stays off (a program that uses it can take shared GPUs out of service);
# the TRT-LLM all-reduce workspace does not use it (SymmDeviceMemory(enable_multicast=False)).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
# FlashInfer's CUDA norm kernels; the CuTe-DSL ones need nvidia-cutlass-dsl, not bundled.
export FLASHINFER_USE_CUDA_NORM=1
PY=${PY:-python3}
stage() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

stage install
site=/tmp/normfusion-site
mkdir -p "$site"
if [ -f .whl/flashinfer-bundle.tar.xz ]; then
  tar -C "$site" -xJf .whl/flashinfer-bundle.tar.xz
  [ -f .whl/flashinfer-aot-sm90a.tar.xz ] && tar -C "$site" -xJf .whl/flashinfer-aot-sm90a.tar.xz
else
  echo "no .whl/flashinfer-bundle.tar.xz: flashinfer cases will be declined"
fi
compgen -G ".whl/*.whl" > /dev/null && $PY -m pip install -q --no-index --no-deps --target "$site" .whl/*.whl
export PYTHONPATH=$site:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}
$PY -m pip install -q --no-deps --no-build-isolation -e . || { echo "cannot install pytest-normfusion"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
