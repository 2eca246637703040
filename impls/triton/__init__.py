"""Our Triton kernels as a candidate (profile fp32 / fp32-sum): ``kernels`` (the @jit kernels),
``plan`` (launch plans per device, the launcher), ``interpret`` (the CPU interpreter switch).

Triton is imported on first use, so the candidate loads where it is not installed
and ``supports`` says why every case is declined. Without CUDA the kernels run in
Triton's CPU interpreter (``NORMFUSION_TRITON_INTERPRET=0`` turns that off); the
candidate turns it on (``interpret.enable()``) before it first imports triton.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

import torch

from pytest_normfusion.impls.triton import interpret

if TYPE_CHECKING:
    from pytest_normfusion.api import Case


@functools.cache
def _plan_module() -> Any:
    """The launcher module (``plan``, which imports the kernels), or an ImportError that says what is missing."""
    interpret.enable()
    try:
        return importlib.import_module("pytest_normfusion.impls.triton.plan")
    except ModuleNotFoundError as exc:
        raise ImportError(f"triton is not installed ({exc}); pip install 'triton>=3'") from exc


def unavailable() -> str | None:
    """Why the kernels cannot run here, or None."""
    try:
        launcher = _plan_module()
    except ImportError as exc:
        return str(exc)
    if not launcher.INTERPRET and not torch.cuda.is_available():
        return f"no CUDA device, and Triton's interpreter is off ({interpret.INTERPRET_ENV}=0)"
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
        launcher = _plan_module()
        bound = launcher.MAX_SINGLE_PASS if self.max_single_pass is None else self.max_single_pass
        return launcher.launch(*args, max_single_pass=bound)

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
