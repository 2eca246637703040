"""``torch.compile`` of the reference with every size static: a benchmark peer, not shipped.

The shipped ``torch-compile`` candidate (``impls/torch_compile.py``) keeps the token
dimension dynamic, as engines mark it; this one specialises on T too (one graph and
kernel per shape, compiled on first use), which inductor can size exactly. The
benchmarks time both and ``report.py`` shows the faster of the two as ``torch.compile``.
"""

from __future__ import annotations

import torch

from pytest_normfusion import reference
from pytest_normfusion.impls.torch_compile import _recompile_limit


class Static:
    name = "torch-compile-static"

    def __init__(self) -> None:
        self._rms_norm = torch.compile(reference.rms_norm, dynamic=False)
        self._fused_add_rms_norm = torch.compile(reference.fused_add_rms_norm, dynamic=False)

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        with _recompile_limit():
            return self._rms_norm(x, weight, eps, weight_bias)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with _recompile_limit():
            return self._fused_add_rms_norm(x, residual, weight, eps, weight_bias)
