"""Measure the all-reduce bounds of docs/allreduce-tolerance.md on the CPU, without a process group.

Simulates the reductions a legal all-reduce may do in x.dtype (a ring: each
chunk's ranks summed in a rotated order, every partial sum rounded; a tree:
pairwise), then the reference fused add, and reports per world size and dtype:
- the largest |residual_out - exact sum| as a fraction of ``reduction_bound``;
- the largest ulp distance of y from the norm of the candidate's own residual_out;
- the fraction of y elements the strict (fp32-sum) profile judge sees differ.

    python benchmarks/allreduce_tolerance.py [--seeds N]
"""

from __future__ import annotations

import argparse

import torch

from pytest_normfusion import reference
from pytest_normfusion.core import judge
from pytest_normfusion.core.allreduce import exact_sums
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import make_inputs
from pytest_normfusion.core.judge_allreduce import reduction_bound
from pytest_normfusion.core.tolerance import DEFAULT

CHUNKS = 8  # a ring splits the rows into chunks; each chunk starts its sum at another rank


def ring_sum(xs: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """Sum in ``dtype``: chunk c of the flattened tensor is summed starting at rank c % ws."""
    flat = [x.reshape(-1) for x in xs]
    out = torch.empty_like(flat[0])
    for c, idx in enumerate(torch.arange(flat[0].numel()).chunk(CHUNKS)):
        order = [(c + i) % len(xs) for i in range(len(xs))]
        s = flat[order[0]][idx]
        for r in order[1:]:
            s = (s.float() + flat[r][idx].float()).to(dtype)
        out[idx] = s
    return out.reshape(xs[0].shape)


def tree_sum(xs: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """Pairwise sum in ``dtype`` (a tree all-reduce)."""
    while len(xs) > 1:
        xs = [(a.float() + b.float()).to(dtype) for a, b in zip(xs[::2], xs[1::2], strict=True)] + (
            [xs[-1]] if len(xs) % 2 else []
        )
    return xs[0]


def measure(case: Case, seed: int, reduce, multiply: str) -> tuple[float, int, float]:
    everyone = [make_inputs(case, seed, "cpu", r) for r in range(case.world_size)]
    s32, s64, abs_sum = exact_sums(case, seed)
    reduced = reduce([i.x for i in everyone], case.torch_dtype)
    w, r = everyone[0].weight, everyone[0].residual
    if r is None:
        y, r_out = reference.rms_norm(reduced, w, case.eps, case.weight_bias, multiply=multiply), reduced
    else:
        y, r_out = reference.fused_add_rms_norm(reduced, r, w, case.eps, case.weight_bias, multiply=multiply)
    ratio = float(((r_out.double() - s64).abs() / reduction_bound(case, abs_sum, s64, DEFAULT)).max())
    own, _ = reference.norm_of_sum(r_out.float(), w, case.eps, case.weight_bias, y.dtype, multiply, "fp32-sum")
    own_ulp = int(judge.ulp_distance(y, own).max())
    strict, _ = reference.norm_of_sum(s32, w, case.eps, case.weight_bias, y.dtype, multiply, "fp32-sum")
    differ = float((judge.ulp_distance(y, strict) != 0).double().mean())
    return ratio, own_ulp, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("ws dtype multiply    reduce  max(|r_out-s|/bound)  max ulp(y, norm(own r_out))  strict mismatch")
    for ws in (2, 4, 8):
        for dtype in ("bf16", "fp16"):
            # fp32 multiply with an fp32 Gemma weight; input-dtype multiply with a same-dtype weight
            for multiply, weight, bias in (("fp32", "fp32", 1.0), ("input-dtype", dtype, 0.0)):
                for name, reduce in (("ring", ring_sum), ("tree", tree_sum)):
                    worst = (0.0, 0, 0.0)
                    for seed in range(args.seeds):
                        for t, h, magnitude in ((300, 1031, "normal"), (300, 1031, "outlier"), (64, 4096, "tiny")):
                            case = Case(
                                "allreduce_rms_norm", dtype, weight, bias, t, h, 1e-6, "contiguous", magnitude, True, ws
                            )
                            m = measure(case, seed, reduce, multiply)
                            worst = tuple(max(a, b) for a, b in zip(worst, m, strict=True))
                    print(
                        f"{ws:>2} {dtype:<5} {multiply:<11} {name:<6} {worst[0]:>20.3f}  {worst[1]:>27d}  "
                        f"{worst[2]:>15.1%}"
                    )


if __name__ == "__main__":
    main()
