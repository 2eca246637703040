# Call C (twentieth run): group_check.py's checks again, naming each variant (and the 8-warp one bit for bit
# against 8 warps), then attrib.py: the prototype at H 5120 and 5125 beside the committed plans.
python -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1
export PYTHONPATH=$PWD/benchmarks
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python -c "import torch, triton; print(torch.__version__, triton.__version__)"
timeout 200 python .gpuwork/probe/group_check.py $OUT/group_check_C.json 0 2>&1 | tee $OUT/group_check_C.log | grep -v "^ "
timeout 300 python .gpuwork/probe/attrib.py $OUT/attrib.json 2>&1 | tee $OUT/attrib.log | grep -v "^ "
