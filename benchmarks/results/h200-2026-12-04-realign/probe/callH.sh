# Call H (nineteenth run): the staged aligned-body prototype (one row a program, the body through shared memory),
# checked against fp64 and timed at H 5125 beside the committed plan and the copy kernel.
python -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1
export PYTHONPATH=$PWD/benchmarks
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python -c "import torch, triton; print(torch.__version__, triton.__version__)"
timeout 500 python .gpuwork/probe/staged_check.py $OUT/staged_check.json 300 2>&1 | tee $OUT/staged_check.log | grep -v "^ "
