"""Capture order: our kernel (with and without programmatic dependent launch) prepared before or
after one other candidate (the copy kernel, or torch.compile), sampled in blocks."""
import dataclasses, functools, json, sys
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep

class Planned:
    def __init__(self, p, name):
        self.p, self.name = p, name
    def declines(self, case):
        return None
    def method(self, op):
        launch = functools.partial(tn.launch, launch_plan=self.p)
        if op == "rms_norm":
            return lambda x, w, eps, bias: launch(x, None, w, eps, bias)[0]
        return lambda x, r, w, eps, bias: launch(x, r, w, eps, bias)

others = [load_candidate(s) for s in ("copy_peer:Copy", "torch-compile")]
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 8192)]
out = []
mp = torch.cuda.get_device_properties(0).multi_processor_count
for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    p = tn.plan(t, h, op != "rms_norm", tn.MAX_SINGLE_PASS, mp, tn.device_table(torch.device("cuda")), 2, wd == "fp32")
    for pdl in (True, False):
        ours = Planned(dataclasses.replace(p, pdl=pdl), "triton" if pdl else "triton-nopdl")
        for other in others:
            for order in ("alone", "ours-first", "ours-last"):
                group = {"alone": [ours], "ours-first": [ours, other], "ours-last": [other, ours]}[order]
                timed, _ = sweep.measure_all(group, case, "cuda", 0)
                us = {n: tm.summary.median * 1e6 for n, tm in timed.items()}
                out.append({"case": case.id, "pdl": pdl, "other": other.name, "order": order, "us": us})
                print(f"{case.id[:40]:40} {ours.name:12} {other.name:13} {order:10} { {k: round(v, 2) for k, v in us.items()} }", flush=True)
    json.dump(out, open(sys.argv[1], "w"), indent=1)
