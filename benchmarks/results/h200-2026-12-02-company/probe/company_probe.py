"""Does the company a candidate is timed in change its time? Our kernels (table plan, with and
without programmatic dependent launch) alone, beside one peer at a time, and in the sweep's group."""
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

peers = {s: load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")}
ours = load_candidate("triton")
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("fused_add_rms_norm", "bf16", "bf16", 0.0, 1, 5125),
          ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048), ("rms_norm", "fp16", "fp16", 0.0, 256, 8192),
          ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192)]
out = []
mp = torch.cuda.get_device_properties(0).multi_processor_count
for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    p = tn.plan(t, h, op != "rms_norm", tn.MAX_SINGLE_PASS, mp, tn.device_table(torch.device("cuda")), 2, wd == "fp32")
    nopdl = Planned(dataclasses.replace(p, pdl=False), "triton-nopdl")
    P = list(peers.values())
    groups = {"alone": [ours], "pair-nopdl": [ours, nopdl], "sweep": [P[0], P[1], P[2], ours, P[3], P[4]],
              "sweep-nopdl": [P[0], P[1], P[2], nopdl, P[3], P[4]], "ours-first": [ours, *P]}
    groups.update({f"with-{c.name}": [c, ours] for c in P})
    for rep in range(2):
        for gname, group in groups.items():
            timed, skipped = sweep.measure_all(group, case, "cuda", rep)
            row = {"case": case.id, "group": gname, "rep": rep, "plan": str(p),
                   "us": {n: tm.summary.median * 1e6 for n, tm in timed.items()},
                   "iqr": {n: tm.summary.iqr * 1e6 for n, tm in timed.items()}}
            out.append(row)
            mine = {k: round(v, 2) for k, v in row["us"].items() if k.startswith("triton")}
            print(f"{op[:9]} {dt} w{wd} {t}x{h} {gname:22} rep{rep} ours {mine} iqr "
                  f"{ {k: round(v, 2) for k, v in row['iqr'].items() if k.startswith('triton')} }", flush=True)
        json.dump(out, open(sys.argv[1], "w"), indent=1)
