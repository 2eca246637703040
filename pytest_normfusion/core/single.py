"""One case on one device: call the candidate, judge its outputs, probe a declined case."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from pytest_normfusion.core import call, judge
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
    """rms_norm / fused_add_rms_norm on one device: call, judge, and probe declined cases."""
    return call.lacks(candidate, case) or run_on_inputs(candidate, case, make_inputs(case, seed, device), timeout)


def run_on_inputs(candidate: Candidate, case: Case, inputs: Inputs, timeout: float = 0.0) -> Outcome:
    """Judge one call of the candidate on given inputs; the call may take ``timeout`` s (0: no limit)."""
    try:
        declined = candidate.declines(case)
    except Exception as exc:
        return call.supports_failed(candidate, exc)
    # on the inputs' device: the judge runs where the outputs are, with no copies to the host
    weight_before = None if inputs.weight is None else inputs.weight.clone()
    try:
        with deadline(timeout):
            out = call.call(candidate, case, inputs)
    except CaseTimeout as exc:
        text = f"{candidate.name}.{case.op} {exc} (--normfusion-case-timeout)"
        return Outcome(Status.TIMEOUT, [Problem(Check.TIMEOUT, text)])
    except Exception as exc:  # the candidate's failure is data
        return call.raised(candidate, case, declined, exc)
    s32, s64 = inputs.x.float(), inputs.x.double()
    if inputs.residual is not None:
        s32, s64 = s32 + inputs.residual.float(), s64 + inputs.residual.double()
    # judged against the weight as it was before the call, so a candidate that modifies it
    # is reported for that alone, not also for numbers computed from the damaged weight
    as_given = dataclasses.replace(inputs, weight=weight_before)
    problems, verdict = judge_outputs(candidate, case, out, s32, s64, as_given)
    changed = call.weight_changed(weight_before, inputs.weight)
    problems += [changed] if changed else []
    judged = verdict.profile is not None or verdict.problems  # y was a tensor of the right kind
    return call.finish(declined, problems, verdict.metrics() if judged else {})
