"""One case on one device: call the candidate, judge its outputs, probe a declined case, call it again."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from pytest_normfusion.core import again, call, judge
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.deadline import CaseTimeout, deadline
from pytest_normfusion.core.inputs import Inputs, make_inputs
from pytest_normfusion.core.outcome import Check, Outcome, Problem
from pytest_normfusion.core.status import Status
from pytest_normfusion.loading import Candidate


def judge_outputs(
    candidate: Candidate, case: Case, out: Any, s32: torch.Tensor, s64: torch.Tensor, inputs: Inputs
) -> tuple[list[Problem], judge.Verdict]:
    """Every check of DESIGN.md section 2 on one call's outputs; ``s32``/``s64`` are the pre-norm sums."""
    problems, y, r_out = call.split_outputs(case, out, inputs.x)
    verdict = judge.Verdict()
    x = inputs.x if inputs.residual is not None else None  # names a residual that was not added
    if y is not None:
        verdict = judge.judge(case, y, s32, s64, inputs.weight, candidate.tolerances, x=x)
        problems += verdict.problems
    if r_out is not None:
        problem = judge.check_residual(r_out, s32, s64, x, inputs.residual)
        problems += [problem] if problem else []
    return problems, verdict


def run_single_device(candidate: Candidate, case: Case, seed: int, device: str, timeout: float = 0.0) -> Outcome:
    """rms_norm / fused_add_rms_norm on one device: call, judge, probe declined cases, call again."""
    lacking = call.lacks(candidate, case)
    if lacking is not None:
        return lacking
    inputs = make_inputs(case, seed, device)
    try:
        declined = candidate.declines(case)
    except Exception as exc:
        return call.supports_failed(candidate, exc)
    outcome, out = _run(candidate, case, inputs, declined, timeout)
    if outcome.status is not Status.PASSED or case.magnitude not in again.MAGNITUDES:
        return outcome
    return call_again(candidate, case, inputs.weight, make_inputs(case, seed, device, call=1), out, timeout) or outcome


def run_on_inputs(candidate: Candidate, case: Case, inputs: Inputs, timeout: float = 0.0) -> Outcome:
    """Judge one call of the candidate on given inputs; the call may take ``timeout`` s (0: no limit)."""
    try:
        declined = candidate.declines(case)
    except Exception as exc:
        return call.supports_failed(candidate, exc)
    return _run(candidate, case, inputs, declined, timeout)[0]


def call_again(
    candidate: Candidate,
    case: Case,
    weight: torch.Tensor | None,
    fresh: Inputs,
    first_out: Any,
    timeout: float = 0.0,
) -> Outcome | None:
    """A second call after a passed first one (``core.again``): ``fresh`` x (and residual), and the first
    call's ``weight`` rewritten in place with ``fresh.weight``. Its problems, or the first call's outputs
    returned again or changed by it, are the outcome; None when both calls are right."""
    kept = {name: t.clone() for name, t in again.outputs(first_out).items()}
    old_weight = again.rewrite_weight(weight, fresh.weight)
    second = dataclasses.replace(fresh, weight=weight)
    outcome, out = _run(candidate, case, second, None, timeout)
    if outcome.status is not Status.PASSED:
        stale = old_weight is not None and outcome.status is Status.FAILED
        return again.wrong(case, outcome, stale and _conforms_with(candidate, case, out, second, old_weight))
    problems = again.overwritten(kept, first_out, out)
    return Outcome(Status.FAILED, problems, metrics=outcome.metrics) if problems else None


def _run(candidate: Candidate, case: Case, inputs: Inputs, declined: str | None, timeout: float) -> tuple[Outcome, Any]:
    """One call on ``inputs``, judged: the outcome and what the call returned (None if it did not)."""
    # on the inputs' device: the judge runs where the outputs are, with no copies to the host
    weight_before = None if inputs.weight is None else inputs.weight.clone()
    try:
        with deadline(timeout):
            out = call.call(candidate, case, inputs)
    except CaseTimeout as exc:
        text = f"{candidate.name}.{case.op} {exc} (--normfusion-case-timeout)"
        return Outcome(Status.TIMEOUT, [Problem(Check.TIMEOUT, text)]), None
    except Exception as exc:  # the candidate's failure is data
        return call.raised(candidate, case, declined, exc), None
    s32, s64 = _sums(inputs)
    # judged against the weight as it was before the call, so a candidate that modifies it
    # is reported for that alone, not also for numbers computed from the damaged weight
    as_given = dataclasses.replace(inputs, weight=weight_before)
    problems, verdict = judge_outputs(candidate, case, out, s32, s64, as_given)
    changed = call.weight_changed(weight_before, inputs.weight)
    problems += [changed] if changed else []
    judged = verdict.profile is not None or verdict.problems  # y was a tensor of the right kind
    return call.finish(declined, problems, verdict.metrics() if judged else {}), out


def _sums(inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """The pre-norm sum in fp32 and fp64: x, or x + residual."""
    s32, s64 = inputs.x.float(), inputs.x.double()
    if inputs.residual is not None:
        s32, s64 = s32 + inputs.residual.float(), s64 + inputs.residual.double()
    return s32, s64


def _conforms_with(candidate: Candidate, case: Case, out: Any, inputs: Inputs, weight: torch.Tensor) -> bool:
    """``out``'s y conforms for ``inputs``' x (and residual) with ``weight`` in place of their own."""
    _, y, _ = call.split_outputs(case, out, inputs.x)
    if y is None:
        return False
    s32, s64 = _sums(inputs)
    return judge.judge(case, y, s32, s64, weight, candidate.tolerances, explain=False).passed
