"""What a replay's time follows: the group of six sampled in blocks, each block's samples after
(graph) one untimed replay of its graph [the previous sampler]; (eager) its calls run once eagerly,
then that replay [the sampler under test, committed tree]; (eager1) only its first call eagerly;
(eager+torch) its calls eagerly, then one small torch kernel, then the replay; and each alone."""
import json, sys
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing

tiny = torch.zeros(16, device="cuda")

def blocks(prepared, before, repeats=timing.REPEATS, nblocks=timing.BLOCKS):
    samples = [[] for _ in prepared]
    per = -(-repeats // nblocks)
    for b in range(nblocks):
        order = range(len(prepared)) if b % 2 == 0 else reversed(range(len(prepared)))
        for i in order:
            p = prepared[i]
            before(p)
            p.run(); torch.cuda.synchronize()
            n = min(per, repeats - len(samples[i]))
            samples[i].extend(p.sample() for _ in range(n))
    return samples

def rotation(p):
    for c in p.calls:
        c()

BEFORE = {"graph": lambda p: None, "eager1": lambda p: p.calls[0](),
          "eager+torch": lambda p: (rotation(p), tiny.add_(1))}
peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")]
ours = load_candidate("triton")
group = [*peers[:3], ours, *peers[3:]]
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 8192), ("rms_norm", "bf16", "bf16", 0.0, 256, 6144),
          ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192), ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096),
          ("fused_add_rms_norm", "bf16", "bf16", 0.0, 1, 5125)]
out = []
def show(case, gname, us):
    print(f"{case.id[:44]:44} {gname:11} { {k: round(v, 2) for k, v in us.items()} }", flush=True)

for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    for rep in range(2):
        us = {}
        for c in group:
            timed, _ = sweep.measure_all([c], case, "cuda", 0)
            us.update({n: tm.summary.median * 1e6 for n, tm in timed.items()})
        out.append({"case": case.id, "group": "alone", "rep": rep, "us": us}); show(case, "alone", us)
        prepared, _ = sweep.prepare_all(group, case, "cuda", 0)
        timed = sweep.sample(prepared)
        us = {n: tm.summary.median * 1e6 for n, tm in timed.items()}
        out.append({"case": case.id, "group": "eager", "rep": rep, "us": us}); show(case, "eager", us)
        for gname, before in BEFORE.items():
            s = blocks(list(prepared.values()), before)
            us = {n: timing.median(x) * 1e6 for n, x in zip(prepared, s)}
            out.append({"case": case.id, "group": gname, "rep": rep, "us": us}); show(case, gname, us)
        del prepared
        torch.cuda.empty_cache()
    json.dump(out, open(sys.argv[1], "w"), indent=1)
