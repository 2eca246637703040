#!/bin/bash
# Call J: the pipelined aligned-body prototype, checked against fp64 and timed at H 5125.
set -x
python -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1
export PYTHONPATH=$PWD/benchmarks
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python -c "import torch, triton; print(torch.__version__, triton.__version__)"
timeout 560 python .gpuwork/probe/pipe_check.py $OUT/pipe_check.json 400 2>&1 | tee $OUT/pipe_check.log | grep -v "^ "
