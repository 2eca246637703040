"""On the GPU: the aligned-body kernel with its weight from copies shifted by each head returns
bit for bit what it returns loading the weight element by element."""
import itertools

import torch

from pytest_normfusion.impls.triton import plan as tn

torch.manual_seed(0)
n = 0
for T, H, res, dt, wd in itertools.product((1, 7, 300, 4099), (5125, 2053, 12291), (False, True), (torch.bfloat16, torch.float16), ("x", "fp32")):
    x = torch.randn(T, H, dtype=dt, device="cuda")
    r = torch.randn(T, H, dtype=dt, device="cuda") if res else None
    w = torch.randn(H, dtype=dt if wd == "x" else torch.float32, device="cuda")
    bias = 1.0 if wd == "fp32" else 0.0
    for warps in (4, 8):
        base = tn.launch(x, r, w, 1e-6, bias, launch_plan=tn.aligned_body(T, H, warps))
        heads = tn.launch(x, r, w, 1e-6, bias, launch_plan=tn.aligned_body(T, H, warps, weight_heads=True))
        assert torch.equal(heads[0], base[0]) and (not res or torch.equal(heads[1], base[1])), (T, H, res, dt, wd, warps)
        n += 1
print(f"weight heads: {n} cases bit for bit equal to the weight loaded element by element")
