"""One case on one device: call the candidate, judge its outputs, probe a declined case, call it again."""

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


# Cases whose first call passed are called a second time when their magnitude is one of these
# (state kept across calls does not depend on the values; one magnitude keeps the cost to a third).
SECOND_CALL_MAGNITUDES = ("normal",)


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
    if outcome.status is not Status.PASSED or case.magnitude not in SECOND_CALL_MAGNITUDES:
        return outcome
    fresh = make_inputs(case, seed, device, call=1)
    return call_again(candidate, case, inputs.weight, fresh, out, timeout) or outcome


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
    """A second call after a passed first one: fresh x (and residual), and the first call's ``weight``
    rewritten in place with ``fresh.weight`` through ``.data``, as engines' weight loaders write it
    (the tensor, its address and its version counter unchanged). Its problems, or the first call's
    outputs changed by it, are the outcome; None when both calls are right."""
    kept = {name: t.clone() for name, t in _outputs(first_out).items()}
    old_weight = None if weight is None else weight.clone()
    if weight is not None:
        weight.data.copy_(_unlike(fresh.weight, weight))
    second = dataclasses.replace(fresh, weight=weight)
    outcome, out = _run(candidate, case, second, None, timeout)
    if outcome.status is not Status.PASSED:
        return _second_call_wrong(candidate, case, outcome, out, second, old_weight)
    after, returned = _outputs(first_out), _outputs(out)
    changed = [_overwritten(name, before, after[name], returned) for name, before in kept.items()]
    problems = [p for p in changed if p is not None]
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


def _outputs(out: Any) -> dict[str, torch.Tensor]:
    """A judged call's outputs by name: y, or y and residual_out."""
    return dict(zip(("y", "residual_out"), out if isinstance(out, (tuple, list)) else (out,), strict=False))


def _second_call(case: Case) -> str:
    """What the second call was given, for its messages."""
    fresh = "fresh x and residual" if case.residual else "fresh x"
    if case.weight == "none":
        return f"second call ({fresh})"
    return (
        f"second call ({fresh}; the weight rewritten in place through .data, as weight loaders write it:"
        " the same tensor, address and version counter)"
    )


def _second_call_wrong(
    candidate: Candidate, case: Case, outcome: Outcome, out: Any, second: Inputs, old_weight: torch.Tensor | None
) -> Outcome:
    """The second call's problems, each under the second-call check; named a stale weight when its y
    conforms with the first call's weight instead."""
    heading = f"{_second_call(case)} went wrong:"
    stale = old_weight is not None and outcome.status is Status.FAILED
    if stale and _matches_weight(candidate, case, out, second, old_weight):
        heading = (
            f"{_second_call(case)}: its y is right for the weight before the rewrite, not after it: weight data"
            " kept across calls went stale"
        )
    first, *rest = outcome.problems
    problems = [Problem(Check.SECOND_CALL, f"{heading}\n{first.text}")]
    problems += [Problem(Check.SECOND_CALL, p.text) for p in rest]
    return Outcome(outcome.status, problems, outcome.note, outcome.metrics)


def _matches_weight(candidate: Candidate, case: Case, out: Any, second: Inputs, weight: torch.Tensor) -> bool:
    """``out``'s y conforms for the second call's x (and residual) with ``weight`` in place of its own."""
    _, y, _ = call.split_outputs(case, out, second.x)
    if y is None:
        return False
    s32, s64 = _sums(second)
    return judge.judge(case, y, s32, s64, weight, candidate.tolerances, explain=False).passed


def _unlike(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` with 1 added wherever it equals ``old`` bit for bit, so that every element of a rewritten
    weight changes (a bf16 element repeats about once in 60 draws; at H = 1 that would hide a stale weight)."""
    return torch.where(judge.ordered(new) == judge.ordered(old).to(new.device), new + 1, new)


def _overwritten(
    name: str, before: torch.Tensor, after: torch.Tensor, returned: dict[str, torch.Tensor]
) -> Problem | None:
    """The first call's output ``name`` returned again by the second call (its memory), or changed by it
    (bit for bit): ``before`` is a copy taken after the first call."""
    storage = after.untyped_storage().data_ptr()
    again = [n for n, t in returned.items() if t.untyped_storage().data_ptr() == storage]
    if again:
        text = (
            f"the second call returned the first call's {name} memory as its {again[0]}: every call writes one buffer,"
            f" so the next call overwrites the {name} a caller holds; outputs stay the caller's after the call"
            " (new tensors, or the memory of the x and residual it was handed)"
        )
        return Problem(Check.OUTPUTS_OVERWRITTEN, text)
    changed = (judge.ordered(before) != judge.ordered(after)).reshape(before.shape)
    count = int(changed.sum())
    if not count:
        return None
    flat = int(changed.flatten().nonzero()[0])
    where = judge.element_index(flat, before.shape)
    was, now = before.flatten()[flat].item(), after.flatten()[flat].item()
    text = (
        f"the second call wrote into the first call's {name}: {count} / {before.numel()} elements changed, "
        f"first {name}{where} was {judge.fmt_value(was)} and is now {judge.fmt_value(now)}; outputs stay the "
        "caller's after the call (new tensors, or the memory of the x and residual it was handed)"
    )
    return Problem(Check.OUTPUTS_OVERWRITTEN, text)
