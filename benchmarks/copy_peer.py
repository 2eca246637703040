"""The bytes of a norm, moved by a plain elementwise kernel: the speed of a copy at a
shape's own size (a benchmark peer, not a candidate).

``rms_norm`` negates x, viewed as the integers of its width, into a new tensor;
``fused_add_rms_norm`` does so for x and the residual: each reads and writes what the op
reads and writes, less the weight, in a kernel launch of its own. The integer view makes
bf16 and fp16 one kernel: ``torch.neg`` on fp16 ran 2.5-5 % slower than on bf16 on the
H200, the same bytes (benchmarks/results/h200-2026-12-03-curve/README.md, call C). Not
``clone()``: in a CUDA graph that is a memcpy node, which ran at 0.81 of the eager copy at
512 MB and more on an H100 (benchmarks/results/h100-2026-11-23-looping/README.md).
"""

from __future__ import annotations

import torch

_INTEGER = {2: torch.int16, 4: torch.int32}  # the widths of bf16, fp16 and fp32


def moved(t: torch.Tensor) -> torch.Tensor:
    """``t``'s bytes read and written once, by an integer negation of its elements."""
    return torch.neg(t.view(_INTEGER[t.element_size()]))


class Copy:
    name = "copy"

    def supports(self, case: object) -> bool | str:
        return True if torch.cuda.is_available() else "the copy peer is timed on a CUDA device"

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return moved(x)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return moved(x), moved(residual)
