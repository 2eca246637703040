"""The blocked sampler (committed) against sampling one replay each in turn (the previous one),
for groups of 1, 2 and 6 candidates: does a candidate's time still depend on its company?"""
import dataclasses, functools, json, sys
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing

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

def in_turn(prepared, repeats=timing.REPEATS):
    samples = [[] for _ in prepared]
    for _ in range(repeats):
        for taken, p in zip(samples, prepared):
            taken.append(p.sample())
    return [p.timing(t) for p, t in zip(prepared, samples)]

SAMPLERS = {"in-turn": in_turn, "blocks": timing.sample_in_blocks}
peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")]
ours = load_candidate("triton")
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("fused_add_rms_norm", "bf16", "bf16", 0.0, 1, 5125),
          ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048), ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 8192), ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096)]
out = []
mp = torch.cuda.get_device_properties(0).multi_processor_count
for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    p = tn.plan(t, h, op != "rms_norm", tn.MAX_SINGLE_PASS, mp, tn.device_table(torch.device("cuda")), 2, wd == "fp32")
    nopdl = Planned(dataclasses.replace(p, pdl=False), "triton-nopdl")
    groups = {"alone": [ours], "pair": [ours, nopdl], "sweep": [*peers[:3], ours, *peers[3:]],
              "peers-alone": None}
    for gname, group in groups.items():
        for sname, fn in SAMPLERS.items():
            us, iqr = {}, {}
            for sub in ([[c] for c in peers] if group is None else [group]):  # each peer alone
                prepared, skipped = sweep.prepare_all(sub, case, "cuda", 0)
                timed = dict(zip(prepared, fn(list(prepared.values()))))
                us.update({n: tm.summary.median * 1e6 for n, tm in timed.items()})
                iqr.update({n: tm.summary.iqr * 1e6 for n, tm in timed.items()})
                del prepared
            out.append({"case": case.id, "group": gname, "sampler": sname, "us": us, "iqr": iqr})
            print(f"{case.id[:42]:42} {gname:11} {sname:7} { {k: round(v, 2) for k, v in us.items()} } "
                  f"iqr max {max(iqr.values()):.2f}", flush=True)
    torch.cuda.empty_cache()
    json.dump(out, open(sys.argv[1], "w"), indent=1)
