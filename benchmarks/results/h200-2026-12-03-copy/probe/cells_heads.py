"""Judge the cases that take the aligned-body kernel with its weight's copies (rms_norm at H 5125 and the H
that look its cells up, T 1024 on), which now loads x before its wait, as the conformance suite judges a case."""
import itertools

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

candidate, failed, total = load_candidate("triton"), 0, 0
table = tn.device_table(torch.device("cuda"))
for (t, h), dtype, (w, bias), (layout, magnitude) in itertools.product(
    ((1024, 5125), (1500, 5125), (4096, 5125), (6000, 5123), (9000, 5127), (20000, 5125)),
    ("bf16", "fp16"),
    (("x", 0.0), ("fp32", 1.0), ("x", 1.0), ("fp32", 0.0)),
    (("contiguous", "normal"), ("contiguous", "outlier"), ("strided", "normal")),
):
    wd = dtype if w == "x" else w
    case = Case("rms_norm", dtype, wd, bias, t, h, 1e-6, layout=layout, magnitude=magnitude)
    p = tn.plan(t, h, False, tn.MAX_SINGLE_PASS, 132, table, 2, wd == "fp32")
    out = run_single_device(candidate, case, 0, "cuda")
    total += 1
    failed += out.status.name != "PASSED"
    print(case.id, f"heads={p.weight_heads}", out.status.name, "; ".join(q.message for q in out.problems)[:300], flush=True)
print(f"{total} cases, {failed} not passed")
