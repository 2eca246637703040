"""Judge our kernels at the table cells call F changed (fused_add, T 16384-32768, H 5120-8192,
and shapes between that look them up), as the conformance suite judges a case."""
import itertools
import sys

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.loading import load_candidate

device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
shapes = [(16384, 5120), (32768, 5120), (32768, 7168), (16384, 8192), (32768, 8192), (20000, 8000), (12000, 5000), (30000, 7000)]
if device == "cpu":
    shapes = [(5, 72)]
candidate, failed = load_candidate("triton"), 0
for (t, h), dtype, (weight, bias) in itertools.product(shapes, ("bf16", "fp16"), (("x", 0.0), ("fp32", 1.0))):
    case = Case("fused_add_rms_norm", dtype, dtype if weight == "x" else weight, bias, t, h, 1e-6, residual=True)
    out = run_single_device(candidate, case, 0, device)
    failed += out.status.name != "PASSED"
    print(case.id, out.status.name, "; ".join(p.message for p in out.problems)[:300], flush=True)
print(f"{failed} not passed")
