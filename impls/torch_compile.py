"""``torch.compile`` of the reference: what an engine gets from inductor's fusion."""

from __future__ import annotations

import torch

from pytest_normfusion import reference


class TorchCompile:
    """The reference norms compiled once per guard set (dtype, weight present, strides)."""

    name = "torch-compile"

    def __init__(self) -> None:
        self._rms_norm = torch.compile(reference.rms_norm, dynamic=True)
        self._fused_add_rms_norm = torch.compile(reference.fused_add_rms_norm, dynamic=True)

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return self._rms_norm(x, weight, eps, weight_bias)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._fused_add_rms_norm(x, residual, weight, eps, weight_bias)
