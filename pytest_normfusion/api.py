"""The public surface for candidate and fusion-pass authors: the one module they import.

Torch-free at import. The op handles of the ``normfusion::`` op set and the rank types for
suite extenders load on first access (they import torch)::

    from pytest_normfusion.api import Case            # what supports(case) receives
    from pytest_normfusion.api import rms_norm        # torch.ops.normfusion.rms_norm.default
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pytest_normfusion.core.case import DTYPES, OPS, STRIDE_PAD, Case
from pytest_normfusion.core.fx import PATTERNS
from pytest_normfusion.core.tolerance import TOLERANCES

if TYPE_CHECKING:
    import torch
    import torch.fx

# The bounds an impl may override (``tolerance_overrides = {name: (value, reason)}``).
TOLERANCE_NAMES = tuple(TOLERANCES)
ToleranceOverrides = Mapping[str, tuple[float, str]]


class Candidate(Protocol):
    """An implementation (DESIGN.md section 3). Every method is optional: what a candidate lacks is
    skipped with the reason; ``supports`` returns True, False or a reason string."""

    name: str

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor: ...

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def allreduce_rms_norm(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None,
        weight: torch.Tensor | None,
        eps: float,
        weight_bias: float = 0.0,
        group: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def supports(self, case: Case) -> bool | str: ...


class FusionPass(Protocol):
    """A fusion pass (DESIGN.md section 4): rewrites a GraphModule in place; ``claims`` names the
    patterns it fuses (None: all of ``PATTERNS``)."""

    name: str
    claims: frozenset[str] | None

    def __call__(self, gm: torch.fx.GraphModule) -> int | None: ...


# name -> the module that defines it, imported on first access
_LAZY = {
    "all_reduce": "pytest_normfusion.core.fx.ops",
    "rms_norm": "pytest_normfusion.core.fx.ops",
    "fused_add_rms_norm": "pytest_normfusion.core.fx.ops",
    "allreduce_rms_norm": "pytest_normfusion.core.fx.ops",
    "group_name_of": "pytest_normfusion.core.fx.ops",
    "SCHEMAS": "pytest_normfusion.core.fx.ops",
    "RankContext": "pytest_normfusion.ranks.rank",
    "RankFailure": "pytest_normfusion.ranks.rank",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DTYPES",
    "OPS",
    "PATTERNS",
    "STRIDE_PAD",
    "TOLERANCE_NAMES",
    "Candidate",
    "Case",
    "FusionPass",
    "ToleranceOverrides",
    *_LAZY,
]
