"""All-reduce cases: the job each rank runs, and how the ranks' outcomes become one.

Every rank gets its own x (``make_inputs(case, seed, device, rank)``), rebuilds
every rank's inputs to compute the exact sum, and judges its own outputs. The
parent merges: the case fails naming each failing rank, and also when the
ranks' outputs differ (every rank must get the same ``y`` and ``residual_out``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any, Protocol

import torch

from pytest_normfusion.core import again, call, judge
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import Inputs, make_inputs
from pytest_normfusion.core.judge_allreduce import judge_allreduce, reduction_bound
from pytest_normfusion.core.outcome import Check, Outcome, Problem
from pytest_normfusion.core.status import Status, worst
from pytest_normfusion.loading import Candidate
from pytest_normfusion.ranks.rank import RankContext, RankFailure


class Ranks(Protocol):
    """What runs a job on every rank of a world size: the session's rank pools, or torchrun's group."""

    def run(
        self, world_size: int, fn: Callable[[RankContext, Any], Any], payload: Any, failed: Any = None
    ) -> list[Any]: ...

    def stats_of(self, world_size: int) -> Any: ...


def _digest(*tensors: torch.Tensor) -> str:
    """A fingerprint of the outputs' bits, to check that every rank got the same ones."""
    h = hashlib.sha256()
    for t in tensors:
        packed = t.detach().cpu().contiguous()
        # the raw bytes in one call: bytes(untyped_storage()) copies element by element (7 s for 2.5 MB)
        h.update(ctypes.string_at(packed.data_ptr(), packed.numel() * packed.element_size()))
    return h.hexdigest()[:16]


def exact_sums(case: Case, seed: int, device: torch.device | str = "cpu", call: int = 0) -> tuple[torch.Tensor, ...]:
    """(fp32 sum, exact fp64 sum, fp64 sum of magnitudes) of every rank's x plus r of the case's call number
    ``call``, rebuilt on ``device``."""
    everyone = [make_inputs(case, seed, device, rank, call=call) for rank in range(case.world_size)]
    s32 = torch.zeros(case.tokens, case.hidden, device=device)
    s64 = torch.zeros(case.tokens, case.hidden, dtype=torch.float64, device=device)
    abs_sum = torch.zeros_like(s64)
    residual = everyone[0].residual
    for term in [i.x for i in everyone] + ([] if residual is None else [residual]):
        s32 += term.float()
        s64 += term.double()
        abs_sum += term.double().abs()
    return s32, s64, abs_sum


def run_rank(ctx: RankContext, candidate: Candidate, case: Case, seed: int) -> Outcome:
    """Call the candidate on this rank's inputs over the group, and judge this rank's outputs; a case of
    the normal magnitude is called a second time (``core.again``) by every rank whose first call returned,
    passed or not, so that the group's collectives meet."""
    lacking = call.lacks(candidate, case)
    if lacking:
        return lacking
    try:
        declined = candidate.declines(case)
    except Exception as exc:
        return call.supports_failed(candidate, exc)
    inputs = make_inputs(case, seed, ctx.device, ctx.rank)
    outcome, out = _judged_call(ctx, candidate, case, seed, inputs, declined)
    if declined is not None or out is None or case.magnitude not in again.MAGNITUDES:
        return outcome
    kept = {name: t.clone() for name, t in again.outputs(out).items()}
    fresh = make_inputs(case, seed, ctx.device, ctx.rank, call=1)
    old_weight = again.rewrite_weight(inputs.weight, fresh.weight)
    second = dataclasses.replace(fresh, weight=inputs.weight)
    second_outcome, second_out = _judged_call(ctx, candidate, case, seed, second, None, number=1)
    if outcome.status is not Status.PASSED:
        return outcome
    if second_outcome.status is not Status.PASSED:
        stale = old_weight is not None and second_outcome.status is Status.FAILED
        stale = stale and _conforms_with(candidate, case, seed, second, second_out, old_weight)
        return again.wrong(case, second_outcome, stale)
    problems = again.overwritten(kept, out, second_out)
    if problems:
        return Outcome(Status.FAILED, problems, metrics=second_outcome.metrics)
    # ranks must agree on both calls' outputs
    outcome.metrics["digest"] += second_outcome.metrics["digest"]
    return outcome


def _judged_call(
    ctx: RankContext, candidate: Candidate, case: Case, seed: int, inputs: Inputs, declined: str | None, number: int = 0
) -> tuple[Outcome, Any]:
    """One call on this rank's ``inputs`` (of the case's call ``number``), judged: the outcome and what
    the call returned (None if it raised)."""
    weight_before = None if inputs.weight is None else inputs.weight.clone()
    try:
        out = call.call(candidate, case, inputs, group=ctx.group)
    except Exception as exc:  # the candidate's failure is data
        return call.raised(candidate, case, declined, exc), None
    problems, y, r_out = call.split_outputs(case, out, inputs.x)
    metrics: dict[str, Any] = {}
    if y is not None and r_out is not None:
        s32, s64, abs_sum = exact_sums(case, seed, y.device, number)
        verdict = judge_allreduce(case, y, r_out, s32, s64, abs_sum, weight_before, candidate.tolerances)
        problems += verdict.problems
        metrics = {**verdict.metrics(), "digest": _digest(y, r_out)}
    elif y is not None:  # residual_out is of the wrong kind: y is still judged, against the exact sum
        s32, s64, abs_sum = exact_sums(case, seed, y.device, number)  # with the band of a reduction in x.dtype
        error = reduction_bound(case, abs_sum, s64, candidate.tolerances)
        verdict = judge.judge(case, y, s32, s64, weight_before, candidate.tolerances, sum_error=error)
        problems += verdict.problems
        metrics = verdict.metrics()
    changed = call.weight_changed(weight_before, inputs.weight)
    problems += [changed] if changed else []
    return call.finish(declined, problems, metrics), out


def _conforms_with(candidate: Candidate, case: Case, seed: int, second: Inputs, out: Any, weight: torch.Tensor) -> bool:
    """The second call's outputs (``out``, for this rank's ``second`` inputs) conform with ``weight`` in
    place of the rewritten one."""
    _, y, r_out = call.split_outputs(case, out, second.x)
    if y is None or r_out is None:
        return False
    s32, s64, abs_sum = exact_sums(case, seed, y.device, call=1)
    return judge_allreduce(case, y, r_out, s32, s64, abs_sum, weight, candidate.tolerances).passed


def rank_job(ctx: RankContext, payload: tuple[str, Case, int]) -> Outcome:
    """What each rank runs: load the candidate from the user's spec (cached) and run the case."""
    spec, case, seed = payload
    return run_rank(ctx, ctx.candidate(spec), case, seed)


def merge(outcomes: list[Outcome]) -> Outcome:
    """One outcome for the case: the worst rank's status; messages name the ranks."""
    status = worst(o.status for o in outcomes)
    metrics: dict[str, Any] = {}
    if all("max_ulp" in o.metrics for o in outcomes):
        most = max(outcomes, key=lambda o: o.metrics["max_ulp"])
        metrics = {k: v for k, v in most.metrics.items() if k != "digest"}
        followed = {o.metrics["profile"] for o in outcomes}
        metrics["profile"] = None if None in followed else ",".join(sorted(followed))
    if status is Status.PASSED:
        digests = [o.metrics.get("digest") for o in outcomes]
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            text = (
                f"ranks disagree: the outputs (y, residual_out) of rank(s) {', '.join(map(str, differ))} differ "
                "from rank 0's, though each is within bounds; every rank must get the same y and residual_out"
            )
            return Outcome(Status.FAILED, [Problem(Check.RANKS_DISAGREE, text)], metrics=metrics)
        return Outcome(Status.PASSED, metrics=metrics)
    if status is Status.SKIPPED:
        return Outcome(Status.SKIPPED, note=outcomes[0].note, metrics=metrics)
    same: dict[tuple[Status, str], list[int]] = {}  # ranks that failed alike are reported once
    for rank, o in enumerate(outcomes):
        if o.status is not Status.PASSED:
            same.setdefault((o.status, o.message), []).append(rank)
    bad = sorted(r for ranks in same.values() for r in ranks)
    problems: list[Problem] = []
    for (st, _), ranks in same.items():
        first = next(o for r, o in enumerate(outcomes) if r == ranks[0])
        label = f"rank(s) {', '.join(map(str, ranks))} [{st}]: "
        if first.note:  # the heading, e.g. "supports() declined this case ..."
            problems.append(Problem(first.problems[0].check if first.problems else Check.RANKS, label + first.note))
            label = ""
        problems += [Problem(p.check, label + p.text) for p in first.problems]
    note = f"rank(s) {', '.join(map(str, bad))} of {len(outcomes)} {status}:"
    return Outcome(status, problems, note, metrics)


def _raised_on_rank(outcome: Outcome) -> str | None:
    """A rank whose candidate raised may have left the others waiting in a collective."""
    return outcome.message if outcome.status is Status.ERROR else None


def run(ranks: Ranks, candidate: Candidate, case: Case, seed: int) -> Outcome:
    """Run an all-reduce case on ``case.world_size`` ranks and merge their outcomes."""
    lacking = call.lacks(candidate, case)
    if lacking:
        return lacking
    before = ranks.stats_of(case.world_size)
    spawns = before.spawns if before else 0
    try:
        outcomes = ranks.run(case.world_size, rank_job, (candidate.spec, case, seed), failed=_raised_on_rank)
    except RankFailure as exc:
        stats = ranks.stats_of(case.world_size)
        capped = {"pool_capped": True} if stats and stats.capped else {}
        status = Status.TIMEOUT if exc.timed_out else Status.ERROR
        return Outcome(status, [Problem(Check.TIMEOUT if exc.timed_out else Check.RANKS, str(exc))], metrics=capped)
    outcome = merge(outcomes)
    stats = ranks.stats_of(case.world_size)
    if stats is not None and outcome.metrics:
        outcome.metrics["dispatch_ms"] = round(1000 * stats.overhead_seconds[-1], 3)
        if stats.spawns > spawns:
            outcome.metrics["pool_spawn_s"] = round(stats.spawn_seconds[-1], 2)
    return outcome
