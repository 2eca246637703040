"""Time against T near 4096 at H 8192 (bf16 x and weight, rms_norm): our kernel with two fixed
plans (r2w16, the table's at T 4096, and r1w8) and the copy kernel (copy_peer), in CUDA graphs as the
sweep times a candidate. A kernel whose last programs finish alone shows steps one wave of rows
apart. Writes JSON to argv[1]."""

import json
import sys

import torch

from pytest_normfusion.certificate import environment
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.perf import timing

sys.path.insert(0, "benchmarks")
from copy_peer import moved  # noqa: E402

H = 8192
L2 = timing.l2_bytes("cuda")
MPS = torch.cuda.get_device_properties(0).multi_processor_count
out = {"meta": {**environment.flat("cuda"), "copy_gbps": timing.copy_bandwidth("cuda"), "command": " ".join(sys.argv),
                "multiprocessors": MPS}, "records": []}
gen = torch.Generator(device="cuda").manual_seed(0)
w = (torch.rand(H, device="cuda", generator=gen) + 0.5).to(torch.bfloat16)
for tokens in range(3072, 5120 + 1, 32):
    nbytes = 2 * tokens * H * 2
    sets = timing.rotations(nbytes, L2)
    xs = [torch.randn(tokens, H, device="cuda", generator=gen).to(torch.bfloat16) for _ in range(sets)]
    series = {"copy": [(lambda x=x: moved(x)) for x in xs]}
    for spec in ("r2w16", "r1w8"):
        p = tn.from_spec(spec, tokens, H, tn.MAX_SINGLE_PASS, MPS)
        series[spec] = [(lambda x=x, p=p: tn.launch(x, None, w, 1e-6, 0.0, launch_plan=p)) for x in xs]
    prepared = [timing.prepare(v) for v in series.values()]
    for name, t in zip(series, timing.sample_in_blocks(prepared)):
        rec = {"impl": name, "tokens": tokens, "hidden": H, **t.record(nbytes, out["meta"]["copy_gbps"])}
        out["records"].append(rec)
    print(tokens, " ".join(f"{r['impl']} {r['us']:.2f}" for r in out["records"][-3:]), flush=True)
    del prepared, series, xs
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
