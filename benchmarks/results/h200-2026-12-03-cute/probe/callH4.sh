# Call H4 (twelfth run): the CuTe-DSL peers with fp16 x at every H of the sweep.
set -uo pipefail
source .gpuwork/probe/cute_setup.sh
stage sweep fp16
timeout 530 $PY benchmarks/bench_norms.py --out "$OUT/bench_cute_fp16.json" --budget-s 490 \
  --impls triton,flashinfer_cute_peer:FlashInferCute,quack_peer:Quack,copy_peer:Copy --dtypes fp16 \
  --pairings x:0,fp32:1 --hidden 8192,4096,5120,2048,7168,6144,2880,5125 --tokens 1,16,256,1024,4096,16384,32768 \
  > "$OUT/bench_cute_fp16.log" 2>&1
tail -2 "$OUT/bench_cute_fp16.log"
xz -9 "$OUT/bench_cute_fp16.log"
stage done
