"""Judge our kernels at the H200 table's cells the fourteenth run added (fused_add at T 2048, rms_norm at
8192 x 8192 with a same-dtype weight), as the conformance suite judges a case, at T that look each cell up."""
import itertools

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

CELLS = {  # (residual, fp32 weight): {H: T that look the cell up}
    (True, False): {2880: (1600, 2500), 4096: (1600, 2500), 5120: (1600, 2500), 8192: (1600, 2500)},
    (True, True): {2048: (1600, 2500), 5120: (1600, 2500), 6144: (1600, 2500), 7168: (1600, 2500), 8192: (1600, 2500)},
    (False, False): {8192: (6000, 9000)},
}
candidate, failed, total = load_candidate("triton"), 0, 0
dev = torch.device("cuda")
table = tn.device_table(dev)
for (residual, fp32_weight), by_h in CELLS.items():
    op = "fused_add_rms_norm" if residual else "rms_norm"
    pairings = (("fp32", 1.0), ("fp32", 0.0)) if fp32_weight else (("x", 0.0), ("x", 1.0), ("none", 0.0))
    for h, tokens in by_h.items():
        for t, dtype, (weight, bias), layout, magnitude in itertools.product(
            tokens, ("bf16", "fp16"), pairings, ("contiguous", "strided"), ("normal", "outlier")
        ):
            w = dtype if weight == "x" else weight
            case = Case(op, dtype, w, bias, t, h, 1e-6, residual=residual, layout=layout, magnitude=magnitude)
            out = run_single_device(candidate, case, 0, "cuda")
            p = tn.plan(t, h, residual, tn.MAX_SINGLE_PASS, 132, table, 2, w == "fp32")
            total += 1
            failed += out.status.name != "PASSED"
            if out.status.name != "PASSED" or total % 20 == 0:
                print(case.id, out.status.name, p, "; ".join(q.message for q in out.problems)[:300], flush=True)
print(f"{total} cases, {failed} not passed")
