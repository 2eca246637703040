"""All-reduce fusion speed: a fused candidate against NCCL all_reduce + a fused-add norm, timed on
every rank of a pool (each rank's job returns plain data)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterator
from typing import Any

from pytest_normfusion.core.call import arguments
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import Candidate
from pytest_normfusion.perf import timing
from pytest_normfusion.perf.sweep import PERF_DTYPES, PERF_EPS, device_inputs
from pytest_normfusion.perf.verdict import case_bytes

PERF_AR_HIDDEN = (4096, 8192)
# DESIGN.md 9 (2 x H200): the fused kernel leads 2.1x at T=1 and falls to 0.95x at T=8192.
PERF_AR_TOKENS_FULL = (1, 16, 128, 512, 2048, 8192)
PERF_AR_TOKENS_QUICK = (1, 128, 2048, 8192)
# the norm of the unfused side when the candidate has no fused_add_rms_norm of its own
UNFUSED_NORM_FALLBACK = "torch-compile"


def sweep(dtypes: tuple[str, ...], world_sizes: tuple[int, ...], *, full: bool) -> Iterator[Case]:
    """allreduce_rms_norm with a residual, same-dtype weight, weight_bias 0 and 1, per world size >= 2."""
    tokens = PERF_AR_TOKENS_FULL if full else PERF_AR_TOKENS_QUICK
    for ws, dtype in itertools.product(
        sorted(w for w in world_sizes if w >= 2), [d for d in PERF_DTYPES if d in dtypes]
    ):
        for bias, hidden, t in itertools.product((0.0, 1.0), PERF_AR_HIDDEN, tokens):
            yield Case("allreduce_rms_norm", dtype, dtype, bias, t, hidden, PERF_EPS, residual=True, world_size=ws)


def unfused_norm(candidate: Candidate, case: Case, fallback: Candidate) -> Candidate:
    """The fused-add norm after NCCL's all_reduce: the candidate's own when it takes the case."""
    single = dataclasses.replace(case, op="fused_add_rms_norm", world_size=1)
    if candidate.method("fused_add_rms_norm") is not None and candidate.declines(single) is None:
        return candidate
    return fallback


def time_allreduce(
    candidate: Candidate, norm: Candidate, case: Case, group: Any, device: Any, seed: int
) -> tuple[timing.Timing, timing.Timing]:
    """(fused, unfused) timings on this rank; every rank of ``group`` must call it alike.

    Unfused is NCCL ``all_reduce`` of x in place (as an engine does on its GEMM
    output) then ``norm.fused_add_rms_norm``; repeated calls grow x, which changes
    the values, not the time. Ranks agree on the calls per graph (the slowest
    rank's warm-up) so their collectives match.
    """
    import torch
    import torch.distributed as dist

    def slowest(seconds: float) -> float:
        t = torch.tensor([seconds], device=device, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
        return float(t.item())

    generator = torch.Generator(device=device).manual_seed(seed * 1009 + dist.get_rank(group))
    sets = timing.rotations(case_bytes(case), timing.l2_bytes(str(device)))
    fused_fn, norm_fn = candidate.method(case.op), norm.method("fused_add_rms_norm")
    fused, unfused = [], []
    for _ in range(sets):
        x, residual, weight = device_inputs(case, str(device), generator)
        fused.append(functools.partial(fused_fn, *arguments(case, x, residual, weight, group)))
        x2, r2 = x.clone(), residual.clone()

        def all_reduce_then_norm(x2=x2, r2=r2, weight=weight) -> None:
            dist.all_reduce(x2, group=group)
            norm_fn(x2, r2, weight, case.eps, case.weight_bias)

        unfused.append(all_reduce_then_norm)
    fused_t, unfused_t = timing.sample_in_blocks(
        [timing.prepare(fused, agree=slowest), timing.prepare(unfused, agree=slowest)]
    )
    return fused_t, unfused_t


def rank_job(ctx: Any, payload: tuple[str, Case, int]) -> dict[str, Any]:
    """What each pool rank runs for an all-reduce perf check: plain data back."""
    spec, case, seed = payload
    candidate = ctx.candidate(spec)
    norm = unfused_norm(candidate, case, ctx.candidate(UNFUSED_NORM_FALLBACK))
    fused, unfused = time_allreduce(candidate, norm, case, ctx.group, ctx.device, seed)
    return {
        "fused": dataclasses.asdict(fused.summary),
        "unfused": dataclasses.asdict(unfused.summary),
        "fused_mode": fused.mode,
        "unfused_mode": unfused.mode,
        "notes": [t.note for t in (fused, unfused) if t.note],
        "unfused_norm": norm.name,
    }
