"""Judge our kernels, as the conformance suite judges a case, where the matrix does not reach: the
aligned-body kernel with the weight's shifted copies (rms_norm, H 5125 and an H that looks 5125 up,
T 4096-32768), and the 7 fused_add cases of the ninth run's changed cells that its probe did not reach."""
import itertools
import sys

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.loading import load_candidate

device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
pairings = (("x", 0.0), ("fp32", 1.0))
cases = [
    Case("rms_norm", dtype, dtype if w == "x" else w, bias, t, h, 1e-6)
    for (t, h), dtype, (w, bias) in itertools.product(
        [(4096, 5125), (16384, 5125), (32768, 5125), (6000, 5123)], ("bf16", "fp16"), pairings
    )
]
cases += [
    Case("fused_add_rms_norm", dtype, dtype if w == "x" else w, bias, t, h, 1e-6, residual=True)
    for (t, h), dtype, (w, bias) in [((12000, 5000), "fp16", ("x", 0.0)), ((12000, 5000), "fp16", ("fp32", 1.0)),
                                     ((12000, 5000), "bf16", ("fp32", 1.0)),
                                     *(((30000, 7000), d, p) for d in ("bf16", "fp16") for p in pairings)]
]
if device == "cpu":
    cases = [Case("rms_norm", "bf16", "fp32", 1.0, 5, 1029, 1e-6)]
candidate, failed = load_candidate("triton"), 0
for case in cases:
    out = run_single_device(candidate, case, 0, device)
    failed += out.status.name != "PASSED"
    print(case.id, out.status.name, "; ".join(p.message for p in out.problems)[:300], flush=True)
print(f"{failed} of {len(cases)} not passed")
