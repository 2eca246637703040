set -u
source benchmarks/gpu_setup.sh
mkdir -p $OUT/h
stage gap probe
timeout 400 $PY .gpuwork/probe/gap_probe.py $OUT/h/gap_probe.json > $OUT/h/gap_probe.log 2>&1; grep -v Warn $OUT/h/gap_probe.log | tail -60
stage pack
tar -C $OUT -cJf $OUT/h.tar.xz h && rm -rf $OUT/h
stage done
