"""On the GPU: the probes against the shipped kernels (shifted weight: bit for bit; exchange:
within 1 ulp of the output, against fp64 too), and the exchange over many calls without a hang."""
import itertools
import time

import torch

import exchange
import shifted
from pytest_normfusion.impls.triton import plan as tn


def ref(x, r, w, eps, bias):
    s = x.double() + (0 if r is None else r.double())
    y = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps) * (w.double() + bias)
    return y


torch.manual_seed(0)
n = 0
for T, H, res, dt, wd in itertools.product((1, 7, 300), (5125, 2053), (False, True), (torch.bfloat16, torch.float16), ("x", "fp32")):
    x = torch.randn(T, H, dtype=dt, device="cuda")
    r = torch.randn(T, H, dtype=dt, device="cuda") if res else None
    w = torch.randn(H, dtype=dt if wd == "x" else torch.float32, device="cuda")
    bias = 1.0 if wd == "fp32" else 0.0
    base = tn.launch(x, r, w, 1e-6, bias, launch_plan=tn.aligned_body(T, H, 4))
    for var in (shifted.Sh8(), shifted.Pre4(), shifted.Sh8f()):
        o = var._launch(x, r, w, 1e-6, bias)
        assert torch.equal(o[0], base[0]) and (not res or torch.equal(o[1], base[1])), (var.name, T, H, res, dt, wd)
        n += 1
print(f"shifted: {n} cases bit for bit equal to the aligned-body kernel", flush=True)

n, worst, worst_ref = 0, 0.0, 0.0
for T, H, res, dt, wd, var in itertools.product(
    (1, 3, 16), (2048, 5120, 8192), (False, True), (torch.bfloat16, torch.float16), ("x", "fp32"),
    (exchange.Ex256w1, exchange.Ex1024w4, exchange.Ex2048w8),
):
    x = torch.randn(T, H, dtype=dt, device="cuda")
    r = torch.randn(T, H, dtype=dt, device="cuda") if res else None
    w = torch.randn(H, dtype=dt if wd == "x" else torch.float32, device="cuda")
    bias = 1.0 if wd == "fp32" else 0.0
    base = tn.launch(x, r, w, 1e-6, bias)
    o = var()._launch(x, r, w, 1e-6, bias)
    if res:
        assert torch.equal(o[1], base[1]), (T, H, dt, wd)
    d = (o[0].double() - base[0].double()).abs()
    ulp = torch.finfo(dt).eps * base[0].double().abs().clamp_min(torch.finfo(dt).tiny)
    worst = max(worst, (d / ulp).max().item())
    worst_ref = max(worst_ref, ((o[0].double() - ref(x, r, w, 1e-6, bias)).abs() / ulp).max().item())
    assert (d <= ulp + 1e-30).all(), (T, H, res, dt, wd, var.name, (d / ulp).max().item())
    n += 1
print(f"exchange: {n} cases within 1 ulp of the shipped kernel (worst {worst:.2f} ulp; against fp64 {worst_ref:.2f})", flush=True)

start = time.monotonic()
x = torch.randn(16, 8192, dtype=torch.bfloat16, device="cuda")
w = torch.randn(8192, dtype=torch.bfloat16, device="cuda")
outs = []
for i in range(3000):
    v = (exchange.Ex256w1, exchange.Ex512w2, exchange.Ex1024w4)[i % 3]()
    outs.append(v._launch(x[: 1 + i % 16], None, w, 1e-6, 0.0)[0][0, :4].clone())
torch.cuda.synchronize()
print(f"exchange: 3000 calls, mixed shares and T, in {time.monotonic() - start:.1f} s, no hang", flush=True)
