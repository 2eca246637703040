"""All-reduce cases: the job each rank runs, and how the ranks' outcomes become one.

Every rank gets its own x (``make_inputs(case, seed, device, rank)``), rebuilds
every rank's inputs to compute the exact sum, and judges its own outputs. The
parent merges: the case fails naming each failing rank, and also when the
ranks' outputs differ (every rank must get the same ``y`` and ``residual_out``).
"""

from __future__ import annotations

import ctypes
import hashlib
from typing import Any

import pytest
import torch

from pytest_normfusion import compare, pool
from pytest_normfusion.inputs import make_inputs
from pytest_normfusion.loading import Candidate
from pytest_normfusion.matrix import Case
from pytest_normfusion.reduction import judge_allreduce
from pytest_normfusion.runner import Outcome, call_candidate, finish, raised, split_outputs

# When ranks end differently, the case takes the first of these statuses present.
_PRECEDENCE = ("error", "timeout", "silent-wrong", "failed", "skipped", "passed")


def _digest(*tensors: torch.Tensor) -> str:
    """A fingerprint of the outputs' bits, to check that every rank got the same ones."""
    h = hashlib.sha256()
    for t in tensors:
        packed = t.detach().cpu().contiguous()
        # the raw bytes at once: bytes(storage) walked them one element at a time (7 s for 2.5 MB)
        h.update(ctypes.string_at(packed.data_ptr(), packed.numel() * packed.element_size()))
    return h.hexdigest()[:16]


def exact_sums(case: Case, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(fp32 sum, exact fp64 sum, fp64 sum of magnitudes) of every rank's x plus r, rebuilt here."""
    everyone = [make_inputs(case, seed, "cpu", rank) for rank in range(case.world_size)]
    s32 = torch.zeros(case.tokens, case.hidden)
    s64 = torch.zeros(case.tokens, case.hidden, dtype=torch.float64)
    abs_sum = torch.zeros_like(s64)
    residual = everyone[0].residual
    for term in [i.x for i in everyone] + ([] if residual is None else [residual]):
        s32 += term.float()
        s64 += term.double()
        abs_sum += term.double().abs()
    return s32, s64, abs_sum


def run_rank(ctx: pool.RankContext, candidate: Candidate, case: Case, seed: int) -> Outcome:
    """Call the candidate on this rank's inputs over the group, and judge this rank's outputs."""
    fn = candidate.method(case.op)
    if fn is None:
        return Outcome("skipped", f"{candidate.name} has no {case.op}")
    declined = candidate.declines(case)
    inputs = make_inputs(case, seed, ctx.device, ctx.rank)
    weight_before = None if inputs.weight is None else inputs.weight.cpu().clone()
    try:
        out = call_candidate(fn, case, inputs, group=ctx.group)
    except Exception as exc:  # the candidate's failure is data
        return raised(candidate, case, declined, exc)
    problems, y, r_out = split_outputs(case, out, inputs.x)
    metrics: dict[str, Any] = {}
    if y is not None and r_out is not None:
        s32, s64, abs_sum = exact_sums(case, seed)
        verdict = judge_allreduce(case, y, r_out, s32, s64, abs_sum, inputs.weight, candidate.tolerances)
        problems += verdict.problems
        metrics = {**verdict.metrics(), "digest": _digest(y, r_out)}
    if weight_before is not None and inputs.weight is not None:
        changed = int((compare.ordered(weight_before) != compare.ordered(inputs.weight.cpu())).sum())
        if changed:
            problems.append(f"weight was modified in place: {changed} / {weight_before.numel()} elements changed")
    return finish(declined, problems, metrics)


def rank_job(ctx: pool.RankContext, payload: tuple[str, Case, int]) -> Outcome:
    """What each rank runs: load the candidate from the user's spec (cached) and run the case."""
    spec, case, seed = payload
    return run_rank(ctx, ctx.candidate(spec), case, seed)


def merge(outcomes: list[Outcome]) -> Outcome:
    """One outcome for the case: the worst rank's status; messages name the ranks."""
    status = next(s for s in _PRECEDENCE if any(o.status == s for o in outcomes))
    metrics: dict[str, Any] = {}
    if all("max_ulp" in o.metrics for o in outcomes):
        worst = max(outcomes, key=lambda o: o.metrics["max_ulp"])
        metrics = {k: v for k, v in worst.metrics.items() if k != "digest"}
        followed = {o.metrics["profile"] for o in outcomes}
        metrics["profile"] = None if None in followed else ",".join(sorted(followed))
    if status == "passed":
        digests = [o.metrics.get("digest") for o in outcomes]
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            ranks = ", ".join(map(str, differ))
            return Outcome(
                "failed",
                f"ranks disagree: the outputs (y, residual_out) of rank(s) {ranks} differ from rank 0's, "
                "though each is within bounds; every rank must get the same y and residual_out",
                metrics,
            )
        return Outcome("passed", "", metrics)
    if status == "skipped":
        return Outcome("skipped", outcomes[0].message, metrics)
    same: dict[tuple[str, str], list[int]] = {}  # ranks that failed alike are reported once
    for rank, o in enumerate(outcomes):
        if o.status != "passed":
            same.setdefault((o.status, o.message), []).append(rank)
    bad = sorted(r for ranks in same.values() for r in ranks)
    lines = [f"rank(s) {', '.join(map(str, bad))} of {len(outcomes)} {status}:"]
    lines += [f"rank(s) {', '.join(map(str, ranks))} [{st}]: {msg}" for (st, msg), ranks in same.items()]
    return Outcome(status, "\n".join(lines), metrics)


def _raised_on_rank(outcome: Outcome) -> str | None:
    """A rank whose candidate raised may have left the others waiting in a collective."""
    return outcome.message if outcome.status == "error" else None


def run_allreduce(config: pytest.Config, candidate: Candidate, case: Case, seed: int) -> Outcome:
    """Run an all-reduce case on ``case.world_size`` ranks (a pool, or torchrun's group) and merge."""
    if candidate.method(case.op) is None:
        return Outcome("skipped", f"{candidate.name} has no {case.op}")
    unavailable = pool.world_size_unavailable(config, case.world_size)
    if unavailable:
        return Outcome("skipped", unavailable)
    stats = pool.pool_stats(config, case.world_size)
    spawns = stats.spawns if stats else 0
    try:
        outcomes = pool.run_on_ranks(
            config, case.world_size, rank_job, (candidate.spec, case, seed), failed=_raised_on_rank
        )
    except pool.RankFailure as exc:
        stats = pool.pool_stats(config, case.world_size)
        capped = {"pool_capped": True} if stats and stats.capped else {}
        return Outcome("timeout" if exc.timed_out else "error", str(exc), capped)
    outcome = merge(outcomes)
    stats = pool.pool_stats(config, case.world_size)
    if stats is not None and outcome.metrics:
        outcome.metrics["dispatch_ms"] = round(1000 * stats.overhead_seconds[-1], 3)
        if stats.spawns > spawns:
            outcome.metrics["pool_spawn_s"] = round(stats.spawn_seconds[-1], 2)
    return outcome
