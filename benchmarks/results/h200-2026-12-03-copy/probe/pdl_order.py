"""The aligned-body kernel reads x before its wait for the weight's copies: check that it still sees
the x that the kernel before it writes. Each step writes x (a copy kernel), then normalises it, with no
synchronisation between, eagerly and in one CUDA graph; each output must equal, bit for bit, the output
of the same call made after a synchronise (nothing in flight), and be close to an fp64 reference."""
import torch

from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

cand = load_candidate("triton").obj
torch.manual_seed(0)
bad = total = 0
for dtype, wdtype, bias, t, h, res in [
    (torch.bfloat16, torch.float32, 1.0, 4096, 5125, False),
    (torch.float16, torch.float16, 0.0, 1024, 5125, False),
    (torch.bfloat16, torch.bfloat16, 0.0, 16384, 5125, False),
    (torch.bfloat16, torch.float32, 1.0, 3000, 5123, True),
]:
    p = tn.plan(t, h, res, tn.MAX_SINGLE_PASS, 132, tn.device_table(torch.device("cuda")), 2, wdtype == torch.float32)
    srcs = [torch.randn(t, h, device="cuda", dtype=dtype) * (1 + k) for k in range(6)]
    rsrc = [torch.randn(t, h, device="cuda", dtype=dtype) for _ in range(6)]
    w = torch.randn(h, device="cuda", dtype=wdtype)
    x = torch.empty(t, h, device="cuda", dtype=dtype)
    r = torch.empty_like(x)

    def call():
        if res:
            return cand.fused_add_rms_norm(x, r, w, 1e-6, bias)[0]
        return cand.rms_norm(x, w, 1e-6, bias)

    want = []
    for k in range(6):
        torch.cuda.synchronize()
        x.copy_(srcs[k]), r.copy_(rsrc[k])
        torch.cuda.synchronize()
        want.append(call().clone())
        torch.cuda.synchronize()
    # fp64 reference of the first
    s = srcs[0].double() + (rsrc[0].double() if res else 0)
    ref = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-6) * (w.double() + bias)
    err = (want[0].double() - ref).abs().max().item()
    eager = []
    for k in range(6):
        x.copy_(srcs[k]), r.copy_(rsrc[k])
        eager.append(call())
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    s_ = torch.cuda.Stream()
    with torch.cuda.stream(s_):
        call()  # warm
    torch.cuda.synchronize()
    outs = []
    with torch.cuda.graph(g):
        for k in range(6):
            x.copy_(srcs[k]), r.copy_(rsrc[k])
            outs.append(call())
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    for k in range(6):
        for name, got in (("eager", eager[k]), ("graph", outs[k])):
            total += 1
            same = torch.equal(got, want[k])
            bad += not same
            if not same:
                print("MISMATCH", name, k, dtype, wdtype, t, h, res, (got.float() - want[k].float()).abs().max().item())
    print(f"{dtype} w {wdtype} bias {bias} {t} x {h} residual {res}: plan {p}; max |err| vs fp64 {err:.3g}", flush=True)
print(f"{total} outputs compared, {bad} differ")
