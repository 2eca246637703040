set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/e
stage full matrix
timeout 150 $PY -m pytest -p no:cacheprovider -q -n 15 --normfusion-impl=triton --normfusion-full --normfusion-seed=0 --normfusion-report=$OUT/e/cert-triton-full-seed0.json > $OUT/e/conformance-full.log 2>&1; tail -2 $OUT/e/conformance-full.log
ls /tmp/normfusion-cluster-ptx | wc -l
stage ptxas: triton 3.6 own, then torch inductor
tptxas=$($PY -c "import torch, pathlib; print(pathlib.Path(torch.__file__).parent / 'bin' / 'ptxas')")
$tptxas --version | tail -1
plans=r1w4k8,r1w4k4,r1w8s4,r1w4,r1w4k6,r1w1k8
timeout 45 $PY benchmarks/tune_triton.py --out $OUT/e/ptxas_triton.json --peers "" --tokens 1 --hidden 8192,4096 --ops rms_norm --pairings x:0 --plans $plans 2>&1 | grep best
TRITON_PTXAS_PATH=$tptxas timeout 45 $PY benchmarks/tune_triton.py --out $OUT/e/ptxas_torch.json --peers "" --tokens 1 --hidden 8192,4096 --ops rms_norm --pairings x:0 --plans $plans 2>&1 | grep best
stage perf checks
timeout 90 $PY -m pytest -p no:cacheprovider -q -m perf --normfusion-impl=triton --normfusion-perf-peers=torch-compile,flashinfer,liger_peer:Liger --normfusion-dtypes=bf16 -k 'w_bf16-bias0 or w_fp32-bias1' --benchmark-json=$OUT/e/perf-benchmark.json > $OUT/e/perf.log 2>&1; tail -1 $OUT/e/perf.log
stage pack
tar -C $OUT -cJf $OUT/e.tar.xz e && rm -rf $OUT/e
stage done
