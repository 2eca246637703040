"""Does a candidate's time depend on the other graphs alive? The group of six sampled in blocks
with every graph alive (the committed sampler), with one graph alive at a time (each block
captures its candidate's calls and frees the graph after: the sampler under test), and each candidate alone."""
import json, sys, time
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing

def all_alive(prepared, repeats=timing.REPEATS, blocks=timing.BLOCKS):
    """The previous sampler: every graph captured first and alive, blocks of an untimed replay and samples."""
    runs = [p.capture() for p in prepared]
    samples = [[] for _ in runs]
    per = -(-repeats // blocks)
    for b in range(blocks):
        order = range(len(runs)) if b % 2 == 0 else reversed(range(len(runs)))
        for i in order:
            runs[i](); torch.cuda.synchronize()
            n = min(per, repeats - len(samples[i]))
            samples[i].extend(prepared[i].sample(runs[i]) for _ in range(n))
    return samples

peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger", "copy_peer:Copy")]
ours = load_candidate("triton")
group = [*peers[:3], ours, *peers[3:]]
shapes = [("rms_norm", "bf16", "fp32", 1.0, 1, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 8192), ("rms_norm", "bf16", "bf16", 0.0, 256, 6144),
          ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192), ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096)]
out = []
def show(case, gname, us, extra=""):
    print(f"{case.id[:44]:44} {gname:9} { {k: round(v, 2) for k, v in us.items()} } {extra}", flush=True)

for op, dt, wd, bias, t, h in shapes:
    case = Case(op, dt, wd, bias, t, h, 1e-6, residual=op != "rms_norm")
    for rep in range(2):
        us = {}
        for c in group:
            timed, _ = sweep.measure_all([c], case, "cuda", 0)
            us.update({n: tm.summary.median * 1e6 for n, tm in timed.items()})
        out.append({"case": case.id, "group": "alone", "rep": rep, "us": us}); show(case, "alone", us)
        prepared, _ = sweep.prepare_all(group, case, "cuda", 0)
        s = all_alive(list(prepared.values()))
        us = {n: timing.median(x) * 1e6 for n, x in zip(prepared, s)}
        out.append({"case": case.id, "group": "all-alive", "rep": rep, "us": us}); show(case, "all-alive", us)
        t0 = time.perf_counter()
        timed = sweep.sample(prepared)
        us = {n: tm.summary.median * 1e6 for n, tm in timed.items()}
        out.append({"case": case.id, "group": "one-alive", "rep": rep, "us": us})
        show(case, "one-alive", us, f"sample s {time.perf_counter() - t0:.2f}")
        del prepared
        torch.cuda.empty_cache()
    json.dump(out, open(sys.argv[1], "w"), indent=1)
