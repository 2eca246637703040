"""Does a kernel's time at the roofline depend on where its inputs landed? Ours and torch.compile,
each prepared 4 times in one process (4 allocations of the same inputs, all alive), the 8 sampled
together in blocks; per allocation the median."""
import json, sys
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing

cands = [load_candidate("triton"), load_candidate("torch-compile")]
shapes = [("fused_add_rms_norm", 32768, 8192), ("fused_add_rms_norm", 32768, 4096), ("rms_norm", 32768, 8192),
          ("fused_add_rms_norm", 4096, 4096)]
out = []
for op, t, h in shapes:
    case = Case(op, "bf16", "bf16", 0.0, t, h, 1e-6, residual=op != "rms_norm")
    for rep in range(2):
        names, prepared = [], []
        for k in range(4):
            for c in cands:
                names.append(f"{c.name}#{k}")
                prepared.append(sweep.prepare(c, case, "cuda", 0))
        timed = timing.sample_in_blocks(prepared)
        us = {n: tm.summary.median * 1e6 for n, tm in zip(names, timed)}
        iqr = {n: tm.summary.iqr * 1e6 for n, tm in zip(names, timed)}
        out.append({"case": case.id, "rep": rep, "us": us, "iqr": iqr})
        print(f"{case.id[:44]:44} {rep} " + " ".join(f"{n}={v:.1f}" for n, v in us.items()), flush=True)
        del prepared, timed
        torch.cuda.empty_cache()
    json.dump(out, open(sys.argv[1], "w"), indent=1)
