"""Judge rms_norm at H 5120 with an fp32 weight, whose T 2048 and 4096 cells left the staged kernel in the
fifteenth run's call E (fp16 x ran it 3-14 % slower than bf16 x), as the conformance suite judges a case."""
import itertools

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

candidate, failed, total = load_candidate("triton"), 0, 0
table = tn.device_table(torch.device("cuda"))
for t, dtype, bias, (layout, magnitude) in itertools.product(
    (1600, 2500, 3000, 7000), ("bf16", "fp16"), (1.0, 0.0), (("contiguous", "normal"), ("strided", "outlier"))
):
    case = Case("rms_norm", dtype, "fp32", bias, t, 5120, 1e-6, layout=layout, magnitude=magnitude)
    spec = table.plans[(False, True)][5120][2048 if t < 2896 else 4096]
    assert tn.plan(t, 5120, False, tn.MAX_SINGLE_PASS, 132, table, 2, True) == tn.from_spec(
        spec, t, 5120, tn.MAX_SINGLE_PASS, 132
    ), case.id
    out = run_single_device(candidate, case, 0, "cuda")
    total += 1
    failed += out.status.name != "PASSED"
    print(case.id, spec, out.status.name, "; ".join(q.message for q in out.problems)[:300], flush=True)
print(f"{total} cases, {failed} not passed")
