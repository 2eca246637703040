set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/g
stage company probe
timeout 300 $PY .gpuwork/probe/company_probe.py $OUT/g/company_probe.json > $OUT/g/company_probe.log 2>&1; grep -v Warn $OUT/g/company_probe.log | tail -80
stage fused_add at 32768 x 5120 and 8192, same-dtype weight, beside torch.compile
timeout 200 $PY benchmarks/tune_triton.py --out $OUT/g/fused_32768.json --budget-s 150 --peers torch-compile,compile_peer:Static,copy_peer:Copy \
  --dtypes bf16,fp16 --ops fused_add_rms_norm --pairings x:0 --hidden 8192,5120 --tokens 32768 \
  --plans c4096w16,c2048w16,c4096w8,r1w16,r1w32,r2w16,r1w16u,r1w8,r1w16p1 2>&1 | grep best
stage pack
tar -C $OUT -cJf $OUT/g.tar.xz g && rm -rf $OUT/g
stage done
