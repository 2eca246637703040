"""One conformance case: a frozen ``Case`` with a stable id, and the dtype tables.

No torch import here: the plugin builds the matrix before any candidate loads,
and candidates read a ``Case`` through ``pytest_normfusion.api``.
"""

from __future__ import annotations

import dataclasses

OPS = ("rms_norm", "fused_add_rms_norm", "allreduce_rms_norm")
SINGLE_DEVICE_OPS = OPS[:2]
DTYPES = ("fp16", "bf16", "fp32")
# How the rows lie in memory: packed, or a slice of a wider tensor (row stride
# larger than H, the rows not 16-byte aligned past the first).
LAYOUTS = ("contiguous", "strided")
# Input magnitudes: "normal" N(0,1); "tiny" ~1e-4, where eps dominates
# mean(x^2); "outlier" rows and channels of 100-3000 like LLM activations,
# whose squares overflow fp16 (65504) unless the statistics are in fp32.
# Drawn examples of the property layer name their scale instead ("scale1e-2.50").
MAGNITUDES = ("normal", "tiny", "outlier")
# Extra columns of the wider tensor a matrix "strided" input is sliced from: odd,
# so rows past the first are not 16-byte aligned.
STRIDE_PAD = 3

TORCH_DTYPE_NAMES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
ITEMSIZE = {"fp16": 2, "bf16": 2, "fp32": 4}


@dataclasses.dataclass(frozen=True, order=True)
class Case:
    """One conformance case; ``id`` is its name everywhere (ids, repro lines, seeds)."""

    op: str  # one of OPS
    dtype: str  # x, residual and output dtype: fp16 | bf16 | fp32
    weight: str  # weight dtype (fp16 | bf16 | fp32) or "none" for no scale
    weight_bias: float  # 0.0 plain, 1.0 Gemma (1 + w)
    tokens: int  # rows, T
    hidden: int  # normalised dimension, H
    eps: float
    layout: str = "contiguous"  # one of LAYOUTS
    magnitude: str = "normal"  # one of MAGNITUDES (or a drawn example's scale)
    residual: bool = False  # fused_add always; allreduce optionally
    world_size: int = 1
    pad: int = 0  # extra elements per row of a strided input (STRIDE_PAD unless given); 0 when contiguous

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"Case has unknown op {self.op!r}; expected one of {OPS}")
        if self.dtype not in DTYPES or self.weight not in (*DTYPES, "none"):
            raise ValueError(f"Case {self.op}: dtype {self.dtype!r} / weight {self.weight!r} not in {DTYPES}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"Case {self.op}: layout {self.layout!r} not in {LAYOUTS}")
        if self.weight == "none" and self.weight_bias != 0.0:
            raise ValueError(f"Case {self.op}: weight_bias needs a weight")
        if self.op == "fused_add_rms_norm" and not self.residual:
            raise ValueError("Case fused_add_rms_norm always has a residual")
        if self.layout == "strided" and self.pad == 0:
            object.__setattr__(self, "pad", STRIDE_PAD)
        if self.layout == "contiguous" and self.pad:
            raise ValueError(f"Case {self.op}: a contiguous layout has no row padding (pad={self.pad})")

    @property
    def id(self) -> str:
        """Readable and stable: ``rms_norm-bf16-w_fp32-bias1-T83xH5125-eps1e-06-strided-outlier``."""
        parts = [
            self.op,
            self.dtype,
            f"w_{self.weight}",
            f"bias{self.weight_bias:g}",
            f"T{self.tokens}xH{self.hidden}",
            f"eps{self.eps:.0e}",
            self.layout,
            self.magnitude,
        ]
        if self.op == "allreduce_rms_norm":
            parts.insert(1, f"ws{self.world_size}")
            parts.append("residual" if self.residual else "no_residual")
        return "-".join(parts)

    @property
    def row_stride(self) -> int:
        """Elements between the starts of two rows of x (and the residual)."""
        return self.hidden + self.pad

    @property
    def itemsize(self) -> int:
        """Bytes per element of x, the residual and the outputs."""
        return ITEMSIZE[self.dtype]

    @property
    def weight_itemsize(self) -> int:
        """Bytes per weight element; 0 without a weight."""
        return 0 if self.weight == "none" else ITEMSIZE[self.weight]

    @property
    def torch_dtype(self):  # -> torch.dtype, imported lazily
        import torch

        return getattr(torch, TORCH_DTYPE_NAMES[self.dtype])

    @property
    def weight_torch_dtype(self):  # -> torch.dtype | None
        import torch

        return None if self.weight == "none" else getattr(torch, TORCH_DTYPE_NAMES[self.weight])

    @property
    def mixed_weight(self) -> bool:
        """True when the weight is stored in another dtype than x (bf16 x, fp32 w)."""
        return self.weight not in ("none", self.dtype)

    def summary(self) -> str:
        return (
            f"{self.op}(x=Tensor[{self.tokens}, {self.hidden}, {self.dtype}, {self.layout}, "
            f"{self.magnitude}], weight={self.weight}, eps={self.eps:g}, "
            f"weight_bias={self.weight_bias:g}, residual={self.residual}, world_size={self.world_size})"
        )
