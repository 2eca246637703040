# Call A (twentieth run): the early-wave and .cg prototypes of early.py, checked and timed at H 5125.
python -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1
export PYTHONPATH=$PWD/benchmarks
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python -c "import torch, triton; print(torch.__version__, triton.__version__)"
git log -1 --format=%H 2>/dev/null || true
timeout 540 python .gpuwork/probe/early_check.py $OUT/early_check.json 330 2>&1 | tee $OUT/early_check.log | grep -v "^ "
