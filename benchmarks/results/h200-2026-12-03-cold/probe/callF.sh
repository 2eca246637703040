set -u
source benchmarks/gpu_setup.sh
export PYTHONPATH=$PYTHONPATH:$PWD/.gpuwork/probe
mkdir -p $OUT/f
W32=c2048w32,c4096w32,c8192w32,c8192w16,c4096w16,c2048w16
stage tune fused_add T 16384 32768, chunks of 32 warps
timeout 110 $PY benchmarks/tune_triton.py --out $OUT/f/tune_fused_w32.json --budget-s 95 --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops fused_add_rms_norm --dtypes bf16 --pairings x:0,fp32:1 --hidden 8192,4096,5120,6144,7168 --tokens 32768,16384 --plans $W32 > $OUT/f/tune_fused.log 2>&1; grep -v Warn $OUT/f/tune_fused.log | tail -22
stage tune rms_norm T 4096, chunks of 32 warps
timeout 60 $PY benchmarks/tune_triton.py --out $OUT/f/tune_rms_w32.json --budget-s 45 --peers torch-compile,compile_peer:Static,copy_peer:Copy --ops rms_norm --dtypes bf16 --pairings fp32:1,x:0 --hidden 8192,7168,6144,4096,5120 --tokens 4096 --plans $W32,c1024w4,c2048w8,c4096w8 > $OUT/f/tune_rms.log 2>&1; grep -v Warn $OUT/f/tune_rms.log | tail -12
stage pack
tar -C $OUT -cJf $OUT/f.tar.xz f && rm -rf $OUT/f
stage done
