"""QuACK's RMSNorm (quack-kernels, CuTe-DSL kernels for Hopper and Blackwell) as a benchmark peer
(not a shipped candidate).

``quack.rmsnorm.rmsnorm_fwd``, forward only, as an engine calls it: the residual fused in
(``residual_out = x + residual`` in the residual's dtype, then its norm), ``weight_offset`` for
Gemma's ``(1 + w)`` (added in fp32), a weight in x's dtype or fp32. Needs nvidia-cutlass-dsl.
"""

from __future__ import annotations

import importlib.util

import torch

from pytest_normfusion.core.case import Case


class Quack:
    name = "quack"

    def supports(self, case: Case) -> bool | str:
        if case.hidden % 2 and case.itemsize == 2:
            return (
                "QuACK 0.6.5's rmsnorm_fwd raised DSLRuntimeError, with no message, at every odd H"
                " with a 2-byte x timed (H 5125, bf16 and fp16, on an H200)"
            )
        if importlib.util.find_spec("quack") is None:
            return "quack-kernels is not installed"
        return True if torch.cuda.is_available() else "QuACK's CuTe-DSL kernels need a CUDA device"

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return _forward(x, None, weight, eps, weight_bias)[0]

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return _forward(x, residual, weight, eps, weight_bias)


def _forward(
    x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor | None, eps: float, weight_bias: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, x + residual)`` (x itself without a residual) from one ``rmsnorm_fwd`` call."""
    from quack.rmsnorm import rmsnorm_fwd

    offset = weight_bias if weight is not None else 0.0  # without a weight, no bias (DESIGN.md 2)
    y, residual_out, _ = rmsnorm_fwd(x, weight, residual=residual, eps=eps, weight_offset=offset)
    return y, residual_out
