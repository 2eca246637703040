"""Run one case against a candidate and judge it; plain data out, so ranks can send it back."""

from __future__ import annotations

import dataclasses
import re
import traceback
from typing import Any

import torch

from pytest_normfusion import compare
from pytest_normfusion.deadline import CaseTimeout, deadline
from pytest_normfusion.inputs import Inputs, clone_like, make_inputs
from pytest_normfusion.loading import Candidate
from pytest_normfusion.matrix import Case

STATUSES = ("passed", "failed", "skipped", "silent-wrong", "error", "timeout")
# Which check a problem line comes from, by the opening its source (compare.py,
# _weight_changed) gives it; the certificate lists them per case.
CHECKS = (
    (re.compile(r"^(y|residual_out) is \w+, not a Tensor"), "output-type"),
    (re.compile(r"^(y|residual_out)\.dtype="), "output-dtype"),
    (re.compile(r"^(y|residual_out)\.shape="), "output-shape"),
    (re.compile(r"^(y|residual_out)\.device="), "output-device"),
    (re.compile(r"^\w+ must return \(y, residual_out\)"), "output-type"),
    (re.compile(r"^(y|residual_out) has \d+ / \d+ NaN/Inf"), "nonfinite"),
    (re.compile(r"^y (conforms to no allowed profile|is [\d.]+ ulp from)"), "numerics"),
    (re.compile(r"^residual_out is not x \+ residual"), "residual"),
    (re.compile(r"^weight was modified in place"), "weight-modified"),
)


@dataclasses.dataclass
class Outcome:
    """A case's status, the explanation and the numbers (picklable, JSON-able)."""

    status: str  # one of STATUSES
    message: str = ""
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)


def call_candidate(fn: Any, case: Case, inputs: Inputs, **extra: Any) -> Any:
    """Call ``fn`` on copies of x and residual, which it may overwrite."""
    x, residual = clone_like(inputs.x), clone_like(inputs.residual)
    if case.op == "rms_norm":
        return fn(x, inputs.weight, case.eps, case.weight_bias)
    return fn(x, residual, inputs.weight, case.eps, case.weight_bias, **extra)


def split_outputs(
    case: Case, out: Any, like: torch.Tensor
) -> tuple[list[str], torch.Tensor | None, torch.Tensor | None]:
    """(problems, y, residual_out) after checking types, dtypes, shapes and devices."""
    if case.op == "rms_norm":
        problem = compare.check_tensor("y", out, like)
        return ([problem] if problem else []), (None if problem else out), None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return [f"{case.op} must return (y, residual_out), got {type(out).__name__}"], None, None
    problems = [
        p for p in (compare.check_tensor(n, t, like) for n, t in zip(("y", "residual_out"), out, strict=False)) if p
    ]
    return problems, (None if problems else out[0]), (None if problems else out[1])


def judge_outputs(
    candidate: Candidate, case: Case, out: Any, s32: torch.Tensor, s64: torch.Tensor, inputs: Inputs
) -> tuple[list[str], compare.Verdict]:
    """Every check of DESIGN.md section 2 on one rank's outputs."""
    problems, y, r_out = split_outputs(case, out, inputs.x)
    verdict = compare.Verdict()
    if y is not None:
        verdict = compare.judge(case, y, s32, s64, inputs.weight, candidate.tolerances)
        problems += verdict.problems
    if r_out is not None:
        problem = compare.check_residual(r_out, s32, s64)
        problems += [problem] if problem else []
    return problems, verdict


def _weight_changed(before: torch.Tensor | None, after: torch.Tensor | None) -> str | None:
    if before is None or after is None:
        return None
    changed = int((compare.ordered(before) != compare.ordered(after.cpu())).sum())
    return f"weight was modified in place: {changed} / {before.numel()} elements changed" if changed else None


def failed_checks(problems: list[str]) -> list[str]:
    """The checks the problems come from (CHECKS), sorted; ``other`` for a line none names."""
    return sorted({next((name for pattern, name in CHECKS if pattern.match(p)), "other") for p in problems})


def finish(declined: str | None, problems: list[str], metrics: dict[str, Any]) -> Outcome:
    """Status from the problems found; a declined case that returned wrong numbers is silent-wrong."""
    metrics = {**metrics, "failed_checks": failed_checks(problems)}
    if declined is None:
        return Outcome("failed" if problems else "passed", "\n".join(problems), metrics)
    if problems:
        return Outcome(
            "silent-wrong",
            f"supports() declined this case ({declined}), but the call returned wrong numbers "
            "instead of raising:\n" + "\n".join(problems),
            metrics,
        )
    return Outcome("skipped", f"declined by supports(): {declined} (probed: its outputs conform)", metrics)


def raised(candidate: Candidate, case: Case, declined: str | None, exc: BaseException) -> Outcome:
    """A candidate that raises: a clear error is right for a declined case, an error otherwise."""
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    if declined is not None:
        return Outcome("skipped", f"declined by supports(): {declined} (probed: raises {what})")
    return Outcome(
        "error", f"{candidate.name}.{case.op} raised {what}\n{traceback.format_exc()}", {"failed_checks": ["raised"]}
    )


def run_single_device(candidate: Candidate, case: Case, seed: int, device: str, timeout: float = 0.0) -> Outcome:
    """rms_norm / fused_add_rms_norm on one device: call, judge, and probe declined cases."""
    if candidate.method(case.op) is None:
        return Outcome("skipped", f"{candidate.name} has no {case.op}")
    return run_on_inputs(candidate, case, make_inputs(case, seed, device), timeout)


def run_on_inputs(candidate: Candidate, case: Case, inputs: Inputs, timeout: float = 0.0) -> Outcome:
    """Judge one call of the candidate on given inputs; the call may take ``timeout`` s (0: no limit)."""
    fn = candidate.method(case.op)
    try:
        declined = candidate.declines(case)
    except Exception as exc:
        return Outcome(
            "error",
            f"{candidate.name}.supports raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}",
            {"failed_checks": ["supports-raised"]},
        )
    weight_before = None if inputs.weight is None else inputs.weight.cpu().clone()
    try:
        with deadline(timeout):
            out = call_candidate(fn, case, inputs)
    except CaseTimeout as exc:
        return Outcome(
            "timeout", f"{candidate.name}.{case.op} {exc} (--normfusion-case-timeout)", {"failed_checks": ["timeout"]}
        )
    except Exception as exc:  # the candidate's failure is data
        return raised(candidate, case, declined, exc)
    x_cpu = inputs.x.cpu()
    s32, s64 = x_cpu.float(), x_cpu.double()
    if inputs.residual is not None:
        r_cpu = inputs.residual.cpu()
        s32, s64 = s32 + r_cpu.float(), s64 + r_cpu.double()
    # judged against the weight as it was before the call, so a candidate that modifies it
    # is reported for that alone, not also for numbers computed from the damaged weight
    as_given = dataclasses.replace(inputs, weight=weight_before)
    problems, verdict = judge_outputs(candidate, case, out, s32, s64, as_given)
    changed = _weight_changed(weight_before, inputs.weight)
    problems += [changed] if changed else []
    judged = verdict.profile is not None or verdict.problems  # y was a tensor of the right kind
    return finish(declined, problems, verdict.metrics() if judged else {})
