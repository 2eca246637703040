"""Liger-Kernel's RMSNorm as a benchmark peer (not a shipped candidate).

Liger has no fused residual add: ``fused_add_rms_norm`` is an unfused add in
``x.dtype`` followed by its norm (the ``rounded-sum`` profile, DESIGN.md 2).
Casting mode ``gemma`` (fp32 multiply) whenever ``weight_bias`` is set or the
weight is fp32, else ``llama`` (input-dtype multiply), as engines call it.
"""

from __future__ import annotations

import importlib.util

import torch


class Liger:
    name = "liger"

    def supports(self, case: object) -> bool | str:
        if importlib.util.find_spec("liger_kernel") is None:
            return "liger_kernel is not installed"
        return True if torch.cuda.is_available() else "Liger's Triton kernels need a CUDA device"

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        from liger_kernel.ops.rms_norm import LigerRMSNormFunction

        w = torch.ones(x.size(-1), dtype=x.dtype, device=x.device) if weight is None else weight
        mode = "gemma" if weight_bias or w.dtype != x.dtype else "llama"
        with torch.no_grad():  # no autograd state: forward only, as in inference
            return LigerRMSNormFunction.apply(x, w, eps, weight_bias, mode, False)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s = x + residual
        return self.rms_norm(s, weight, eps, weight_bias), s
