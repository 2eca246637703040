"""On the GPU: the rows kernel with programs sharing a block returns bit for bit what one program a block returns."""
import itertools
import torch
from pytest_normfusion.impls.triton import plan as tn

torch.manual_seed(0)
n = 0
cases = [*itertools.product((1, 3, 16), (2880, 8192), (False, True), (torch.bfloat16, torch.float16), ("x", "fp32"), (4,)),
         *itertools.product((1, 5), (5120,), (True,), (torch.float32,), (None,), (8,))]
for T, H, res, dt, wd, S in cases:
    x = torch.randn(T, H, dtype=dt, device="cuda")
    r = torch.randn(T, H, dtype=dt, device="cuda") if res else None
    w = None if wd is None else torch.randn(H, dtype=dt if wd == "x" else torch.float32, device="cuda")
    block = 1 << (H - 1).bit_length()
    base = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.Plan(True, 1, block, 4, T))
    o = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.Plan(True, 1, block, 4, T, split=S))
    assert torch.equal(o[0], base[0]) and (not res or torch.equal(o[1], base[1])), (T, H, res, dt, wd, S)
    n += 1
print(f"split: {n} cases bit for bit equal to one program a block")
