"""Our Triton kernels as a candidate (profile fp32 / fp32-sum); kernels in ``triton_norm``.

Triton is imported on first use, so the candidate loads where it is not installed
and ``supports`` says why every case is declined. Without CUDA the kernels run in
Triton's CPU interpreter (``NORMFUSION_TRITON_INTERPRET=0`` turns that off).
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from pytest_normfusion.api import Case


@functools.cache
def _kernels() -> Any:
    """The kernel module, or an ImportError that says what is missing."""
    try:
        return importlib.import_module("pytest_normfusion.impls.triton_norm")
    except ModuleNotFoundError as exc:
        raise ImportError(f"triton is not installed ({exc}); pip install 'triton>=3'") from exc


def unavailable() -> str | None:
    """Why the kernels cannot run here, or None."""
    try:
        kernels = _kernels()
    except ImportError as exc:
        return str(exc)
    if not kernels.INTERPRET and not torch.cuda.is_available():
        return f"no CUDA device, and Triton's interpreter is off ({kernels.INTERPRET_ENV}=0)"
    return None


class Triton:
    """RMSNorm and fused residual-add RMSNorm in Triton: any H, strided rows, fp32 or same-dtype weight."""

    name = "triton"

    def __init__(self, max_single_pass: int | None = None) -> None:
        # A smaller bound sends more H to the two-pass kernel (the tests use it on CPU).
        self.max_single_pass = max_single_pass

    def supports(self, case: Case) -> bool | str:
        return unavailable() or True

    def _launch(self, *args: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        kernels = _kernels()
        bound = kernels.MAX_SINGLE_PASS if self.max_single_pass is None else self.max_single_pass
        return kernels.launch(*args, max_single_pass=bound)

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return self._launch(x, None, weight, eps, weight_bias)[0]

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y, r_out = self._launch(x, residual, weight, eps, weight_bias)
        assert r_out is not None
        return y, r_out
