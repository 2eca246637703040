"""The second call of a case (docs/semantics.md, "A second call"): what it is given, and what it checks
beyond the judge.

Engines rewrite weights in place between calls (``param.data.copy_``: the same tensor, address and
version counter) and hold each call's outputs while the next layer runs. So a case of the normal
magnitude is called again on fresh inputs with its weight rewritten through ``.data``; the second
call's outputs must not be the first call's memory, and the first call's outputs must not change.
"""

from __future__ import annotations

from typing import Any

import torch

from pytest_normfusion.core import judge
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Check, Outcome, Problem

# Cases of these magnitudes are called a second time (state kept across calls does not depend on the
# values; one magnitude keeps the cost to a third).
MAGNITUDES = ("normal",)


def rewrite_weight(weight: torch.Tensor | None, fresh: torch.Tensor | None) -> torch.Tensor | None:
    """Write ``fresh`` into ``weight`` through ``.data``, 1 added wherever it equals the old value bit for bit
    (a bf16 element repeats about once in 60 draws; at H = 1 that would hide a stale weight). Returns a copy
    of the old values."""
    if weight is None or fresh is None:
        return None
    old = weight.clone()
    same = judge.ordered(fresh) == judge.ordered(old).to(fresh.device)
    weight.data.copy_(torch.where(same, fresh + 1, fresh))
    return old


def outputs(out: Any) -> dict[str, torch.Tensor]:
    """A judged call's outputs by name: y, or y and residual_out."""
    return dict(zip(("y", "residual_out"), out if isinstance(out, (tuple, list)) else (out,), strict=False))


def given(case: Case) -> str:
    """What the second call was given, for its messages."""
    fresh = "fresh x and residual" if case.residual else "fresh x"
    if case.weight == "none":
        return f"second call ({fresh})"
    return (
        f"second call ({fresh}; the weight rewritten in place through .data, as weight loaders write it:"
        " the same tensor, address and version counter)"
    )


def wrong(case: Case, outcome: Outcome, stale: bool) -> Outcome:
    """The second call's problems under the second-call check, the first headed by what the call was given;
    ``stale``: its y conforms with the weight as it was before the rewrite."""
    heading = f"{given(case)} went wrong:"
    if stale:
        heading = (
            f"{given(case)}: its y is right for the weight before the rewrite, not after it: weight data kept"
            " across calls went stale"
        )
    first, *rest = outcome.problems
    problems = [Problem(Check.SECOND_CALL, f"{heading}\n{first.text}")]
    problems += [Problem(Check.SECOND_CALL, p.text) for p in rest]
    return Outcome(outcome.status, problems, outcome.note, outcome.metrics)


def overwritten(kept: dict[str, torch.Tensor], first: Any, second: Any) -> list[Problem]:
    """The first call's outputs returned again by the second call (their memory), or changed by it (bit for
    bit): ``kept`` holds copies of them taken after the first call."""
    after, returned = outputs(first), outputs(second)
    problems = [_overwritten(name, before, after[name], returned) for name, before in kept.items()]
    return [p for p in problems if p is not None]


_YOURS = "outputs stay the caller's after the call (new tensors, or the memory of the x and residual it was handed)"


def _overwritten(
    name: str, before: torch.Tensor, after: torch.Tensor, returned: dict[str, torch.Tensor]
) -> Problem | None:
    storage = after.untyped_storage().data_ptr()
    again = [n for n, t in returned.items() if t.untyped_storage().data_ptr() == storage]
    if again:
        text = (
            f"the second call returned the first call's {name} memory as its {again[0]}: every call writes one"
            f" buffer, so the next call overwrites the {name} a caller holds; {_YOURS}"
        )
        return Problem(Check.OUTPUTS_OVERWRITTEN, text)
    changed = (judge.ordered(before) != judge.ordered(after)).reshape(before.shape)
    count = int(changed.sum())
    if not count:
        return None
    flat = int(changed.flatten().nonzero()[0])
    was, now = before.flatten()[flat].item(), after.flatten()[flat].item()
    text = (
        f"the second call wrote into the first call's {name}: {count} / {before.numel()} elements changed, first"
        f" {name}{judge.element_index(flat, before.shape)} was {judge.fmt_value(was)} and is now"
        f" {judge.fmt_value(now)}; {_YOURS}"
    )
    return Problem(Check.OUTPUTS_OVERWRITTEN, text)
