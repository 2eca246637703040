"""The reference as a candidate: eager PyTorch, fp32 statistics, fp32 multiply."""

from __future__ import annotations

import torch
import torch.distributed as dist

from pytest_normfusion import reference


class Reference:
    """Calls ``pytest_normfusion.reference`` directly; follows the fp32/fp32-sum profile."""

    name = "reference"

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return reference.rms_norm(x, weight, eps, weight_bias)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)

    def allreduce_rms_norm(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None,
        weight: torch.Tensor | None,
        eps: float,
        weight_bias: float = 0.0,
        group: dist.ProcessGroup | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)
