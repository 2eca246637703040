"""Probe (thirteenth H200 run): the staged kernel at H that are not a power of two (masked block),
against fp64 and against the rows kernel running the same plan, and whether each case staged."""
import dataclasses
import itertools

import torch

from pytest_normfusion.impls.triton import plan as tn

worst = {}
for H, dtype, weight, T, warps, strided in itertools.product(
    (2048, 2880, 5120, 6144, 7168, 8192), (torch.bfloat16, torch.float16), ("x", "fp32", "none"), (37, 1000),
    (4, 8, 16), (False, True),
):
    g = torch.Generator(device="cuda").manual_seed(H + T)
    x = torch.randn(T, H + (64 if strided else 0), device="cuda", dtype=dtype, generator=g)[:, :H]
    w = None if weight == "none" else torch.randn(H, device="cuda", generator=g).to(torch.float32 if weight == "fp32" else dtype)
    p = tn.from_spec(f"r1w{warps}g", T, H, tn.MAX_SINGLE_PASS, 132)
    if p is None:
        continue
    staged = tn._stages(p, x, None, H)
    y = tn.launch(x, None, w, 1e-6, 1.0, launch_plan=p)[0]
    rows = tn.launch(x, None, w, 1e-6, 1.0, launch_plan=dataclasses.replace(p, staged=False))[0]
    xd = x.double()
    ref = xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + 1e-6) * (1.0 if w is None else (w.double() + 1.0))
    ulp = torch.finfo(dtype).eps * ref.abs().clamp(min=torch.finfo(dtype).tiny)
    err = ((y.double() - ref).abs() / ulp).max().item()
    diff = ((y.double() - rows.double()).abs() / ulp).max().item()
    key = (H, str(dtype), weight, staged)
    worst[key] = max(worst.get(key, (0, 0)), (err, diff))
    assert torch.isfinite(y).all(), key
for key, (err, diff) in sorted(worst.items()):
    print(key, f"max {err:.3f} ulp from fp64 (relative), {diff:.3f} ulp from the rows kernel")
print("bad:", sum(err > 1.0 for err, _ in worst.values()), "staged keys:", sum(k[3] for k in worst))
