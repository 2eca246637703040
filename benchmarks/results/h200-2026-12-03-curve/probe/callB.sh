# Call B (eleventh run): gpu_run.sh's TWIN_S stage alone (the other stages cut to nothing), on
# call A's machine, without the FlashInfer bundle (the twins' checks time no FlashInfer).
mkdir -p $OUT/twin && CONFORMANCE_S=0 PERF_S=1 TWIN_S=220 BENCH_S=1 OUT=$OUT/twin bash benchmarks/gpu_run.sh > /dev/null 2>&1
grep -E "passed|failed|===|short|FAILED" $OUT/twin/run.log | tail -40; ls $OUT/twin
