set -u
source benchmarks/gpu_setup.sh
stage t1 probe
timeout 300 $PY .gpuwork/probe/t1_probe.py $OUT/t1_probe.json 2>&1 | tail -40
stage tune T=1
timeout 240 $PY benchmarks/tune_triton.py --out $OUT/tune_t1_mbar.json --peers "" --tokens 1 --hidden 5120,5125,6144,7168,8192,4096,2880 --dtypes bf16 --pairings x:0,fp32:1 --budget-s 200 2>&1 | grep -v "^$" | tail -40
stage done
