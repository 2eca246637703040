"""The committed sampler (blocks, each captured again): every candidate in the sweep's group of six
against each alone, at the shapes where company cost our kernels most."""
import json, sys
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep

peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")]
ours = load_candidate("triton")
group = [*peers[:3], ours, *peers[3:]]
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 8192), ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192)]
out = []
for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    for gname, subs in (("sweep", [group]), ("alone", [[c] for c in group])):
        us = {}
        for sub in subs:
            timed, _ = sweep.measure_all(sub, case, "cuda", 0)
            us.update({n: tm.summary.median * 1e6 for n, tm in timed.items()})
        out.append({"case": case.id, "group": gname, "us": us})
        print(f"{case.id[:42]:42} {gname:6} { {k: round(v, 2) for k, v in us.items()} }", flush=True)
    json.dump(out, open(sys.argv[1], "w"), indent=1)
