"""Judge our kernels at the H200 table's cells that the thirteenth run moved to the staged kernel (rms_norm,
2-byte x), as the conformance suite judges a case, at T that look each cell up, and say which cases staged."""
import itertools

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

TOKENS = {1024: (1100,), 2048: (2500,), 4096: (3000,)}
candidate, failed, staged, total = load_candidate("triton"), 0, 0, 0
dev = torch.device("cuda")
table = tn.device_table(dev)
for (residual, fp32_weight), by_h in table.plans.items():
    for h, by_t in by_h.items():
        for key, spec in by_t.items():
            if residual or not spec.endswith("g") or (h, key, fp32_weight) == (8192, 1024, False):
                continue  # the twelfth run judged 1024 x 8192 with a same-dtype weight
            pairings = (("fp32", 1.0),) if fp32_weight else (("x", 0.0), ("x", 1.0), ("none", 0.0))
            for t, dtype, (weight, bias), layout, magnitude in itertools.product(
                TOKENS[key], ("bf16", "fp16"), pairings, ("contiguous", "strided"), ("normal", "outlier")
            ):
                w = dtype if weight == "x" else weight
                case = Case("rms_norm", dtype, w, bias, t, h, 1e-6, layout=layout, magnitude=magnitude)
                out = run_single_device(candidate, case, 0, "cuda")
                p = tn.plan(t, h, False, tn.MAX_SINGLE_PASS, 132, table, 2, w == "fp32")
                pad = case.pad if layout == "strided" else 0
                x = torch.empty(t, h + pad, device=dev, dtype=case.torch_dtype)[:, :h]
                ran = tn._stages(p, x, None, h)
                staged += ran
                total += 1
                failed += out.status.name != "PASSED"
                if out.status.name != "PASSED" or total % 40 == 0:
                    print(case.id, out.status.name, "staged" if ran else "rows",
                          "; ".join(q.message for q in out.problems)[:300], flush=True)
print(f"{total} cases, {failed} not passed; {staged} cases staged")
