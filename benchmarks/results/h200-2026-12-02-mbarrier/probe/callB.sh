set -u
source benchmarks/gpu_setup.sh
stage t1b probe
timeout 200 $PY .gpuwork/probe/t1b_probe.py $OUT/t1b_probe.json 2>&1 | tail -12
stage tune T=1
timeout 330 $PY benchmarks/tune_triton.py --out $OUT/tune_t1_lanes.json --peers "" --tokens 1 --hidden 5120,8192,7168,6144,5125,4096,2880,2048 --dtypes bf16 --pairings x:0,fp32:1 --budget-s 290 2>&1 | grep -v "^$" | tail -40
stage done
