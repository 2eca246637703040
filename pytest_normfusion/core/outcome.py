"""What running a case came to: a status, the problems found (each from a named check), the numbers.

Plain data (dataclasses of strings and numbers): ranks pickle outcomes back to the parent.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from pytest_normfusion.core.status import Status


class Check(str, enum.Enum):
    """Which check found a problem; the certificate lists them per case as ``failed_checks``."""

    OUTPUT_TYPE = "output-type"  # not a Tensor, or not a (y, residual_out) pair
    OUTPUT_DTYPE = "output-dtype"
    OUTPUT_SHAPE = "output-shape"
    OUTPUT_DEVICE = "output-device"
    NONFINITE = "nonfinite"  # NaN or Inf where the fp64 ideal is finite
    NUMERICS = "numerics"  # y conforms to no allowed profile (or is too far from the ideal, fp32)
    RESIDUAL = "residual"  # residual_out is not the (all-reduced) sum
    WEIGHT_MODIFIED = "weight-modified"
    SECOND_CALL = "second-call"  # a second call (fresh x, the weight rewritten in place) went wrong
    OUTPUTS_OVERWRITTEN = "outputs-overwritten"  # the second call wrote into the first call's outputs
    RANKS_DISAGREE = "ranks-disagree"  # all-reduce: ranks returned different outputs
    RAISED = "raised"
    SUPPORTS_RAISED = "supports-raised"  # supports() raised
    SUPPORTS_ANSWER = "supports-answer"  # supports() answered something other than True, False or a reason
    TIMEOUT = "timeout"
    CRASHED = "crashed"  # the process running the case died
    RANKS = "ranks"  # a rank died, hung or raised outside the candidate
    SPEED = "speed"  # perf checks: slower than a rival beyond the noise
    GRAPH = "graph"  # fusion passes: the rewritten graph is wrong
    FUSION_NUMERICS = "fusion-numerics"  # fusion passes: the rewritten graph computes other numbers

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a case, and the check that found it."""

    check: Check
    text: str  # one paragraph, first line a summary


@dataclasses.dataclass
class Outcome:
    """A case's status, what is wrong with it, a note (why skipped, or a heading) and its numbers."""

    status: Status
    problems: list[Problem] = dataclasses.field(default_factory=list)
    note: str = ""
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        """The note, then every problem's text."""
        return "\n".join([*([self.note] if self.note else []), *(p.text for p in self.problems)])

    @property
    def failed_checks(self) -> list[str]:
        """The checks the problems come from, sorted."""
        return sorted({p.check.value for p in self.problems})
