"""Judge our kernels at the table cell the staged kernel took (rms_norm, 2-byte x, H 8192, T 513-2047
look it up), as the conformance suite judges a case, and say which cases ran the staged kernel."""
import itertools
import sys

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

candidate, failed, staged = load_candidate("triton"), 0, 0
dev = torch.device("cuda")
for t, dtype, (weight, bias), layout, magnitude in itertools.product(
    (600, 1024, 1031, 2047), ("bf16", "fp16"), (("x", 0.0), ("x", 1.0), ("none", 0.0), ("fp32", 1.0)),
    ("contiguous", "strided"), ("normal", "tiny", "outlier"),
):
    w = dtype if weight == "x" else weight
    case = Case("rms_norm", dtype, w, bias, t, 8192, 1e-6, layout=layout, magnitude=magnitude)
    out = run_single_device(candidate, case, 0, "cuda")
    p = tn.plan(t, 8192, False, tn.MAX_SINGLE_PASS, 132, tn.device_table(dev), 2, w == "fp32")
    x = torch.empty(t, 8192 + (case.pad if layout == "strided" else 0), device=dev, dtype=case.torch_dtype)[:, :8192]
    ran = tn._stages(p, x, None, 8192)
    staged += ran
    failed += out.status.name != "PASSED"
    print(case.id, out.status.name, "staged" if ran else "rows", "; ".join(p.message for p in out.problems)[:300], flush=True)
print(f"{failed} not passed; {staged} cases staged")
