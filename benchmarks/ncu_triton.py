"""Launch chosen plans of our Triton kernels, and peers, once each inside a named NVTX range,
for Nsight Compute to profile (one GPU).

    ncu --clock-control none --nvtx --print-nvtx-rename kernel --kernel-name regex:[Nn]orm \\
        --section SpeedOfLight --section Occupancy --csv --page details \\
        python benchmarks/ncu_triton.py --case rms_norm:fp32:1:4096:8192 --plans default,r1w4,r1w8p2 \\
        --peers liger_peer:Liger > ncu.csv

A case is ``op:weight dtype:weight_bias:T:H`` with bf16 x; a plan is ``default`` or a spec
of ``tune_triton.parse_plan`` (``r1w8p2``: 2 programs per multiprocessor looping over the
row blocks, loading the next one early). Each launch is
preceded by one outside the range (compilation, warm-up), so the profiled one is
named ``<case>/<plan or peer>``.
"""

from __future__ import annotations

import argparse
import functools
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", required=True, help="op:weight dtype:weight_bias:T:H")
    parser.add_argument("--plans", default="default")
    parser.add_argument("--peers", default="")
    args = parser.parse_args(argv)

    import torch
    from tune_triton import parse_plan

    from pytest_normfusion.core.case import Case
    from pytest_normfusion.impls.triton import plan as tn
    from pytest_normfusion.loading import load_candidate
    from pytest_normfusion.perf import sweep

    peers = [load_candidate(s) for s in args.peers.split(",") if s]
    generator = torch.Generator(device="cuda").manual_seed(0)
    multiprocessors = torch.cuda.get_device_properties(0).multi_processor_count
    for spec in args.case:
        op, weight, bias, tokens, hidden = spec.split(":")
        case = Case(op, "bf16", weight, float(bias), int(tokens), int(hidden), 1e-6, residual=op != "rms_norm")
        x, residual, w = sweep.device_inputs(case, "cuda", generator)
        calls = {}
        for name in args.plans.split(","):
            p = parse_plan(name, case.tokens, case.hidden, case.residual, multiprocessors, weight == "fp32")
            if p is None:
                continue
            calls[name] = functools.partial(tn.launch, x, residual, w, case.eps, case.weight_bias, launch_plan=p)
        for candidate in peers:
            if sweep.not_timed(candidate, case) is None:
                inputs = (x, w) if op == "rms_norm" else (x, residual, w)
                calls[candidate.name] = functools.partial(candidate.method(op), *inputs, case.eps, case.weight_bias)
        for name, call in calls.items():
            call()
            torch.cuda.synchronize()
            with torch.cuda.nvtx.range(f"{spec}/{name}"):
                call()
            torch.cuda.synchronize()
            print(f"launched {spec}/{name}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
