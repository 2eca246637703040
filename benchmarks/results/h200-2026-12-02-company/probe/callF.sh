set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/f
ALL=torch-compile,compile_peer:Static,flashinfer,liger_peer:Liger
stage PDL per cell at T 128-1024, bf16 and fp16, every peer
tune() {  # name op pairing hidden tokens plans
  timeout 95 $PY benchmarks/tune_triton.py --out $OUT/f/pdl_$1.json --budget-s 70 --peers $ALL --pdl both --dtypes bf16,fp16 \
    --ops $2 --pairings $3 --hidden $4 --tokens $5 --plans $6 2>&1 | grep -v Warning
}
tune 2048f rms_norm fp32:1 2048 1024 r2w8p2,r1w4,r2w4,r1w8,r2w8,r2w16,r1w4p4,r2w4p2
tune 8192fa fused_add_rms_norm fp32:1 8192 256 r2w8,r1w8,r1w16,r2w16,r1w32,r1w16p1
tune 8192 rms_norm x:0 8192 256 r2w16,r1w8,r1w16,r1w32,r2w8,c4096w16
tune 4096 rms_norm x:0 4096 256 r2w8,r1w4,r1w8,r2w16,r1w16,r2w4
tune 7168 rms_norm x:0 7168 256 r2w16,r1w8,r1w16,r1w32,r2w8
tune 6144f rms_norm fp32:1 6144 128,256 r1w16u,r1w8u,r2w16u,r1w16,r2w8,r1w32u
stage pack
tar -C $OUT -cJf $OUT/f.tar.xz f && rm -rf $OUT/f
stage done
