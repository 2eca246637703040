"""On the GPU: plans with a cluster a program (k<n>) against the table's plan and fp64, per H
(argv[1]); run once per H in parallel, it also compiles (and caches) the tune's kernels."""
import itertools
import sys

import torch

from pytest_normfusion.impls.triton import plan as tn

H = int(sys.argv[1])
SPECS = [s + ("a" if H % 8 else "") for s in ("r1w8k2", "r1w16k2", "r1w4k4", "r1w8k4", "r1w2k8", "r1w4k8")]
if H % 8 == 0 and tn.pieces(H)[1]:
    SPECS += [s + "u" for s in SPECS]
torch.manual_seed(H)
n, worst, worst_ref = 0, 0.0, 0.0
for T, res, dt, wd, spec in itertools.product((1, 5, 16), (False, True), (torch.bfloat16, torch.float16), ("x", "fp32"), SPECS):
    if dt == torch.float16 and T != 1:
        continue
    x = torch.randn(T, H, dtype=dt, device="cuda")
    r = torch.randn(T, H, dtype=dt, device="cuda") if res else None
    w = torch.randn(H, dtype=dt if wd == "x" else torch.float32, device="cuda")
    bias = 1.0 if wd == "fp32" else 0.0
    base = tn.launch(x, r, w, 1e-6, bias)
    p = tn.from_spec(spec, T, H, tn.MAX_SINGLE_PASS, 132)
    assert p.ctas > 1, (spec, p)
    o = tn.launch(x, r, w, 1e-6, bias, launch_plan=p)
    assert not res or torch.equal(o[1], base[1]), (spec, T, res, dt, wd)
    ulp = torch.finfo(dt).eps * base[0].double().abs().clamp_min(torch.finfo(dt).tiny)
    d = (o[0].double() - base[0].double()).abs() / ulp
    s = x.double() + (0 if r is None else r.double())
    ref = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-6) * (w.double() + bias)
    worst, worst_ref = max(worst, d.max().item()), max(worst_ref, ((o[0].double() - ref).abs() / ulp).max().item())
    assert d.max().item() <= 1.0, (spec, T, res, dt, wd, d.max().item())
    n += 1
torch.cuda.synchronize()
print(f"H={H}: {n} clustered launches within 1 ulp of the table's plan (worst {worst:.2f}; fp64 {worst_ref:.2f} ulp)")
