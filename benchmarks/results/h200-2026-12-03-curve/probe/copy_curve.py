"""The copy's speed against its size, on one GPU: where a per-call cost of the launch keeps any
kernel of a shape's bytes under the 1 GiB copy's bandwidth.

Per traffic size S (bytes read + written; x bf16 of T x 8192, T = S / 32 KiB):
- eager_copy: ``dst.copy_(src)`` timed as ``timing.copy_bandwidth`` times the roofline (events around
  4 copies, 15 times, median), but rotating through pairs of buffers spanning 2 L2 sizes;
- in CUDA graphs by ``timing.prepare`` / ``sample_in_blocks`` (rotating input sets, alternating blocks):
  the copy kernel (``torch.neg``, benchmarks/copy_peer.py), ``copy_`` (a memcpy node), our rms_norm
  (bf16 weight, the plan the device picks) with and without programmatic dependent launch, and the
  shipped torch-compile (H static);
- fused_add's bytes at T 4096 (H 2048-8192): two copy kernels (copy_peer's) against one ``torch.cat``
  of x and the residual (the same bytes in one launch).
Then a least-squares line t = c + S / B per series over S >= 64 MiB. Writes JSON to argv[1].
"""

import dataclasses
import json
import math
import sys

import numpy as np
import torch

from pytest_normfusion.certificate import environment
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import stats, timing

H = 8192
SIZES_MIB = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048)
FUSED_H = (2048, 4096, 5120, 6144, 8192)
L2 = timing.l2_bytes("cuda")
MPS = torch.cuda.get_device_properties(0).multi_processor_count


def eager_copy(nbytes: int) -> float:
    """Seconds per copy of nbytes read + written, eager, rotating buffer pairs."""
    half = nbytes // 2
    pairs = max(2, math.ceil(2 * L2 / nbytes))
    bufs = [(torch.ones(half, dtype=torch.uint8, device="cuda"), torch.empty(half, dtype=torch.uint8, device="cuda"))
            for _ in range(pairs)]
    calls = max(timing.COPY_CALLS, pairs)

    def run() -> None:
        for i in range(calls):
            src, dst = bufs[i % pairs]
            dst.copy_(src)

    run(); torch.cuda.synchronize()
    samples = [timing._elapsed(run, 1) / calls for _ in range(timing.REPEATS)]
    return stats.median(samples)


def sets_for(nbytes: int) -> int:
    return timing.rotations(nbytes, L2)


def triton_call(x, w, pdl: bool):
    p = tn.plan(x.shape[0], H, False, tn.MAX_SINGLE_PASS, MPS, tn.device_table(x.device), 2, False)
    if not pdl:
        p = dataclasses.replace(p, pdl=False)
    return lambda: tn.launch(x, None, w, 1e-6, 0.0, max_single_pass=tn.MAX_SINGLE_PASS, launch_plan=p)


def main() -> None:
    out = {"meta": {**environment.flat("cuda"), "copy_gbps": timing.copy_bandwidth("cuda"), "l2_bytes": L2,
                    "command": " ".join(sys.argv), "hidden": H}, "sizes": [], "fused": []}
    compiled = load_candidate("torch-compile").method("rms_norm")
    gen = torch.Generator(device="cuda").manual_seed(0)
    for mib in SIZES_MIB:
        nbytes = mib << 20
        tokens = nbytes // (2 * H * 2)
        sets = sets_for(nbytes)
        xs = [torch.randn(tokens, H, device="cuda", generator=gen).to(torch.bfloat16) for _ in range(sets)]
        ys = [torch.empty_like(x) for x in xs]
        w = (torch.rand(H, device="cuda", generator=gen) + 0.5).to(torch.bfloat16)
        series = {
            "copy_kernel": [(lambda x=x: torch.neg(x)) for x in xs],
            "memcpy_node": [(lambda x=x, y=y: y.copy_(x)) for x, y in zip(xs, ys)],
            "triton": [triton_call(x, w, True) for x in xs],
            "triton_nopdl": [triton_call(x, w, False) for x in xs],
            "torch-compile": [(lambda x=x: compiled(x, w, 1e-6, 0.0)) for x in xs],
        }
        prepared = {k: timing.prepare(v) for k, v in series.items()}
        timed = dict(zip(prepared, timing.sample_in_blocks(list(prepared.values()))))
        row = {"traffic_mib": mib, "tokens": tokens, "sets": sets, "eager_copy_s": eager_copy(nbytes)}
        for k, t in timed.items():
            row[k] = t.record(nbytes, out["meta"]["copy_gbps"])
        row["eager_copy_gbps"] = stats.gbps(nbytes, row["eager_copy_s"])
        out["sizes"].append(row)
        print(mib, "MiB T", tokens, f"eager {row['eager_copy_gbps']:.0f}",
              " ".join(f"{k} {row[k]['us']:.2f}us {row[k]['gbps']:.0f}" for k in timed), flush=True)
        del prepared, timed, series, xs, ys
        torch.cuda.empty_cache()
    for hidden in FUSED_H:
        tokens = 4096
        nbytes = 2 * 2 * tokens * hidden * 2
        sets = sets_for(nbytes)
        pairs = [(torch.randn(tokens, hidden, device="cuda", generator=gen).to(torch.bfloat16),
                  torch.randn(tokens, hidden, device="cuda", generator=gen).to(torch.bfloat16)) for _ in range(sets)]
        series = {
            "two_copy_kernels": [(lambda x=x, r=r: (torch.neg(x), torch.neg(r))) for x, r in pairs],
            "one_cat": [(lambda x=x, r=r: torch.cat([x, r])) for x, r in pairs],
        }
        prepared = {k: timing.prepare(v) for k, v in series.items()}
        timed = dict(zip(prepared, timing.sample_in_blocks(list(prepared.values()))))
        row = {"tokens": tokens, "hidden": hidden, "traffic_mib": nbytes / 2**20, "eager_copy_s": eager_copy(nbytes)}
        row["eager_copy_gbps"] = stats.gbps(nbytes, row["eager_copy_s"])
        for k, t in timed.items():
            row[k] = t.record(nbytes, out["meta"]["copy_gbps"])
        out["fused"].append(row)
        print("fused", tokens, hidden, f"eager {row['eager_copy_gbps']:.0f}",
              " ".join(f"{k} {row[k]['us']:.2f}us {row[k]['gbps']:.0f}" for k in timed), flush=True)
        del prepared, timed, series, pairs
        torch.cuda.empty_cache()
    fits = {}
    big = [r for r in out["sizes"] if r["traffic_mib"] >= 64]
    s = np.array([r["traffic_mib"] * 2**20 for r in big], dtype=float)
    for k in ("copy_kernel", "memcpy_node", "triton", "triton_nopdl", "torch-compile", "eager"):
        t = np.array([(r["eager_copy_s"] if k == "eager" else r[k]["us"] * 1e-6) for r in big])
        (c, slope), *_ = np.linalg.lstsq(np.vstack([np.ones_like(s), s]).T, t, rcond=None)
        fits[k] = {"fixed_us": c * 1e6, "gbps": 1 / slope / 1e9}
        print(f"fit {k}: {c*1e6:.2f} us + bytes / {1/slope/1e9:.0f} GB/s")
    out["fits"] = fits
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
