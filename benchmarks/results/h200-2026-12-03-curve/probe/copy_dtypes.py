"""The copy kernel's speed by dtype: torch.neg on bf16, fp16 and fp32 x, and on x viewed as the
integer of its width (the same bytes, one kernel for bf16 and fp16), in CUDA graphs as the sweep times
a candidate (rotating inputs, alternating blocks). Writes JSON to argv[1]."""

import json
import sys

import torch

from pytest_normfusion.certificate import environment
from pytest_normfusion.perf import timing

INT = {2: torch.int16, 4: torch.int32}
L2 = timing.l2_bytes("cuda")
out = {"meta": {**environment.flat("cuda"), "copy_gbps": timing.copy_bandwidth("cuda"), "command": " ".join(sys.argv)},
       "records": []}
gen = torch.Generator(device="cuda").manual_seed(0)
for tokens, hidden in ((1024, 4096), (4096, 4096), (4096, 8192), (16384, 4096), (16384, 8192), (32768, 8192)):
    for seed_round in range(2):
        series = {}
        for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("fp32", torch.float32)):
            nbytes = 2 * tokens * hidden * dtype.itemsize
            sets = timing.rotations(nbytes, L2)
            xs = [torch.randn(tokens, hidden, device="cuda", generator=gen).to(dtype) for _ in range(sets)]
            series[f"neg_{name}"] = ([(lambda x=x: torch.neg(x)) for x in xs], nbytes)
            series[f"neg_int_{name}"] = ([(lambda x=x: torch.neg(x.view(INT[x.element_size()]))) for x in xs], nbytes)
        names = list(series)
        if seed_round:
            names.reverse()
        prepared = [timing.prepare(series[n][0]) for n in names]
        for n, t in zip(names, timing.sample_in_blocks(prepared)):
            rec = {"series": n, "tokens": tokens, "hidden": hidden, "round": seed_round,
                   **t.record(series[n][1], out["meta"]["copy_gbps"])}
            out["records"].append(rec)
            print(f"{tokens}x{hidden} r{seed_round} {n:14} {rec['us']:9.2f} us {rec['copy_fraction']:.3f}", flush=True)
        del prepared, series
        torch.cuda.empty_cache()
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
