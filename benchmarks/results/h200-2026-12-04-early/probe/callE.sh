# Call E (twentieth run): the 2-D heads prototype (heads2d.py), checked and timed at H 5125.
python -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1
export PYTHONPATH=$PWD/benchmarks
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python -c "import torch, triton; print(torch.__version__, triton.__version__)"
timeout 560 python .gpuwork/probe/heads2d_check.py $OUT/heads2d_check.json 400 2>&1 | tee $OUT/heads2d_check.log | grep -v "^ "
