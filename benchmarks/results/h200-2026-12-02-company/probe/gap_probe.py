"""Is the group effect the gap between the start event and the graph's first kernel? Each sampler
in groups of 1, 2 and 6: as committed; a GPU sleep queued before the start event (the CPU's
launches land while the GPU is busy); an untimed replay of the same graph just before."""
import dataclasses, functools, json, sys, time
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

CPU = []
def committed(self):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(); t0 = time.perf_counter(); self.run(); CPU.append(time.perf_counter() - t0); end.record(); end.synchronize()
    return start.elapsed_time(end) / 1e3 / self.calls_per_sample
def sleep_first(self):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(2_000_000)  # about 1 ms: the launches below are queued behind it
    start.record(); t0 = time.perf_counter(); self.run(); CPU.append(time.perf_counter() - t0); end.record(); end.synchronize()
    return start.elapsed_time(end) / 1e3 / self.calls_per_sample
def double(self):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    self.run()
    start.record(); t0 = time.perf_counter(); self.run(); CPU.append(time.perf_counter() - t0); end.record(); end.synchronize()
    return start.elapsed_time(end) / 1e3 / self.calls_per_sample
SAMPLERS = {"committed": committed, "sleep": sleep_first, "double": double}

peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")]
ours = load_candidate("triton")
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192), ("rms_norm", "fp16", "fp16", 0.0, 256, 8192),
          ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096), ("fused_add_rms_norm", "bf16", "bf16", 0.0, 32768, 8192)]
out = []
mp = torch.cuda.get_device_properties(0).multi_processor_count
for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    p = tn.plan(t, h, op != "rms_norm", tn.MAX_SINGLE_PASS, mp, tn.device_table(torch.device("cuda")), 2, wd == "fp32")
    nopdl = Planned(dataclasses.replace(p, pdl=False), "triton-nopdl")
    groups = {"alone": [ours], "pair": [ours, nopdl], "sweep": [*peers[:3], ours, *peers[3:]]}
    for gname, group in groups.items():
        prepared, skipped = sweep.prepare_all(group, case, "cuda", 0)
        for sname, fn in SAMPLERS.items():
            timing.Prepared.sample = fn
            CPU.clear()
            timed = sweep.sample(prepared)
            row = {"case": case.id, "group": gname, "sampler": sname, "calls": {n: q.calls_per_sample for n, q in prepared.items()},
                   "us": {n: tm.summary.median * 1e6 for n, tm in timed.items()},
                   "iqr": {n: tm.summary.iqr * 1e6 for n, tm in timed.items()},
                   "cpu_launch_us_median": sorted(CPU)[len(CPU) // 2] * 1e6}
            out.append(row)
            print(f"{case.id[:42]:42} {gname:5} {sname:9} cpu {row['cpu_launch_us_median']:7.1f}us "
                  f"{ {k: round(v, 2) for k, v in row['us'].items()} }", flush=True)
        del prepared
        torch.cuda.empty_cache()
    json.dump(out, open(sys.argv[1], "w"), indent=1)
