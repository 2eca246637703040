"""Calling a candidate on one case: its ``supports()`` answer, one call on copies of the inputs, the kinds
of its outputs, the weight check, and the status that follows. Shared by the single-device run, the
ranks and the perf checks."""

from __future__ import annotations

import traceback
from typing import Any

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import Inputs, clone_like
from pytest_normfusion.core.judge import check_tensor, ordered
from pytest_normfusion.core.outcome import Check, Outcome, Problem
from pytest_normfusion.core.status import Status
from pytest_normfusion.loading import Candidate, SupportsAnswerError


def arguments(case: Case, x: Any, residual: Any, weight: Any, group: Any = None) -> tuple[Any, ...]:
    """The positional arguments of ``case.op`` (DESIGN.md section 3)."""
    if case.op == "rms_norm":
        return (x, weight, case.eps, case.weight_bias)
    if case.op == "fused_add_rms_norm":
        return (x, residual, weight, case.eps, case.weight_bias)
    return (x, residual, weight, case.eps, case.weight_bias, group)


def call(candidate: Candidate, case: Case, inputs: Inputs, group: Any = None) -> Any:
    """The candidate's ``case.op`` on copies of x and residual, which it may overwrite."""
    x, residual = clone_like(inputs.x), clone_like(inputs.residual)
    return candidate.method(case.op)(*arguments(case, x, residual, inputs.weight, group))


def lacks(candidate: Candidate, case: Case) -> Outcome | None:
    """A skip when the candidate has no method for the case's op."""
    if candidate.method(case.op) is None:
        return Outcome(Status.SKIPPED, note=f"{candidate.name} has no {case.op}")
    return None


def supports_failed(candidate: Candidate, exc: Exception) -> Outcome:
    """``supports()`` raised, or gave an answer of the wrong kind: the case cannot be judged."""
    if isinstance(exc, SupportsAnswerError):
        return Outcome(Status.ERROR, [Problem(Check.SUPPORTS_ANSWER, str(exc))])
    text = f"{candidate.name}.supports raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    return Outcome(Status.ERROR, [Problem(Check.SUPPORTS_RAISED, text)])


# The checks of an output's kind: a caller sees these at once (no silent wrong answer).
KIND_CHECKS = frozenset({Check.OUTPUT_TYPE, Check.OUTPUT_DTYPE, Check.OUTPUT_SHAPE, Check.OUTPUT_DEVICE})


def split_outputs(case: Case, out: Any, like: torch.Tensor) -> tuple[list[Problem], Any, Any]:
    """(problems, y, residual_out) after checking types, dtypes, shapes and devices; an output that
    is not a tensor of the right kind comes back as None, the other is still judged."""
    if case.op == "rms_norm":
        problem = check_tensor("y", out, like)
        return ([problem] if problem else []), (None if problem else out), None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        text = f"{case.op} must return (y, residual_out), got {type(out).__name__}"
        return [Problem(Check.OUTPUT_TYPE, text)], None, None
    y_problem, r_problem = check_tensor("y", out[0], like), check_tensor("residual_out", out[1], like)
    problems = [p for p in (y_problem, r_problem) if p]
    return problems, (None if y_problem else out[0]), (None if r_problem else out[1])


def weight_changed(before: torch.Tensor | None, after: torch.Tensor | None) -> Problem | None:
    """The candidate modified the weight it was handed (bit for bit)."""
    if before is None or after is None:
        return None
    changed = int((ordered(before) != ordered(after.to(before.device))).sum())
    if not changed:
        return None
    return Problem(
        Check.WEIGHT_MODIFIED, f"weight was modified in place: {changed} / {before.numel()} elements changed"
    )


def finish(declined: str | None, problems: list[Problem], metrics: dict[str, Any]) -> Outcome:
    """Status from the problems found. A declined case that returned wrong numbers of the right kind
    is silent-wrong; one whose outputs are of the wrong kind (dtype, shape, device, type) is a skip
    that names what it returns, since a caller sees that at once."""
    if declined is None:
        return Outcome(Status.FAILED if problems else Status.PASSED, problems, metrics=metrics)
    if problems and all(p.check in KIND_CHECKS for p in problems):
        returned = "; ".join(p.text for p in problems)
        return Outcome(Status.SKIPPED, note=f"declined by supports(): {declined} (probed: {returned})", metrics=metrics)
    if problems:
        note = f"supports() declined this case ({declined}), but the call returned wrong numbers instead of raising:"
        return Outcome(Status.SILENT_WRONG, problems, note, metrics)
    return Outcome(
        Status.SKIPPED, note=f"declined by supports(): {declined} (probed: its outputs conform)", metrics=metrics
    )


def raised(candidate: Candidate, case: Case, declined: str | None, exc: BaseException) -> Outcome:
    """A candidate that raises: a clear error is right for a declined case, an error otherwise."""
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    if declined is not None:
        return Outcome(Status.SKIPPED, note=f"declined by supports(): {declined} (probed: raises {what})")
    text = f"{candidate.name}.{case.op} raised {what}\n{traceback.format_exc()}"
    return Outcome(Status.ERROR, [Problem(Check.RAISED, text)])
