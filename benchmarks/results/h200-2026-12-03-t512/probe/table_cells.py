"""Judge our kernels at the H200 table's cells the fifteenth run added (T 512 for both ops, fused_add at
T 8192), as the conformance suite judges a case, at T that look each cell up; shard i of n (argv)."""
import itertools
import sys

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate

CELLS = {  # (residual, fp32 weight): {T of the cell: H}
    (False, False): {512: (2880, 4096, 5120, 6144, 7168)},
    (False, True): {512: (2048, 2880, 4096, 5120, 6144, 7168, 8192)},
    (True, False): {512: (2048, 4096, 6144, 7168, 8192), 8192: (2048, 5120, 6144, 7168, 8192)},
    (True, True): {512: (2048, 2880, 4096, 5120, 7168), 8192: (2048, 4096, 6144, 7168, 8192)},
}
LOOKUPS = {512: (400, 700), 8192: (6000, 11000)}  # T that look each cell up, off the measured T
shard, shards = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (0, 1)
candidate, failed, total, index = load_candidate("triton"), 0, 0, -1
dev = torch.device("cuda")
table = tn.device_table(dev)
for (residual, fp32_weight), by_t in CELLS.items():
    op = "fused_add_rms_norm" if residual else "rms_norm"
    pairings = (("fp32", 1.0), ("fp32", 0.0)) if fp32_weight else (("x", 0.0), ("x", 1.0), ("none", 0.0))
    for key, hidden in by_t.items():
        spec = table.plans[(residual, fp32_weight)]
        for h, t, dtype, (weight, bias), (layout, magnitude) in itertools.product(
            hidden, LOOKUPS[key], ("bf16", "fp16"), pairings, (("contiguous", "normal"), ("strided", "outlier"))
        ):
            index += 1
            if index % shards != shard:
                continue
            w = dtype if weight == "x" else weight
            case = Case(op, dtype, w, bias, t, h, 1e-6, residual=residual, layout=layout, magnitude=magnitude)
            p = tn.plan(t, h, residual, tn.MAX_SINGLE_PASS, 132, table, 2, w == "fp32")
            assert p == tn.from_spec(spec[h][key], t, h, tn.MAX_SINGLE_PASS, 132), (case.id, p)
            out = run_single_device(candidate, case, 0, "cuda")
            total += 1
            failed += out.status.name != "PASSED"
            if out.status.name != "PASSED" or total % 40 == 0:
                print(case.id, out.status.name, spec[h][key], "; ".join(q.message for q in out.problems)[:300], flush=True)
print(f"shard {shard}/{shards}: {total} cases, {failed} not passed")
