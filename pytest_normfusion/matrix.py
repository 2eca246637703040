"""The case matrix: a frozen ``Case`` per test, commented tables, stable ids.

No torch import here: the plugin builds the matrix before any candidate loads.
Every table is a tuple, so the order (and so xdist's collection) is the same in
every process.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

OPS = ("rms_norm", "fused_add_rms_norm", "allreduce_rms_norm")
SINGLE_DEVICE_OPS = OPS[:2]
DTYPES = ("fp16", "bf16", "fp32")
EPSILONS = (1e-5, 1e-6)
WEIGHT_BIASES = (0.0, 1.0)

# (tokens, hidden). Each row is there for a reason; the quick matrix runs all
# of them with every layout and magnitude, so keep them cheap.
QUICK_SHAPES = (
    (1, 4096),  # decode: one token, a realistic hidden size
    (1, 1),  # H=1: y = sign(x) * w when eps is small
    (3, 8),  # tiny rows
    (7, 5120),  # realistic H, a few tokens
    (33, 67),  # odd H, not a multiple of 8 or 16
    (83, 5125),  # odd H near a realistic one, odd T
    (2049, 24),  # a few thousand tokens, short rows
)
# The full matrix adds large, launch-free shapes and more odd sizes, and a prefill chunk
# (odd T past a thousand at a realistic H: where kernels that change strategy with T,
# ours included, loop over rows on a 132-multiprocessor GPU).
FULL_SHAPES = (
    *QUICK_SHAPES,
    (2, 8192),
    (64, 255),
    (256, 4096),
    (1000, 1031),
    (1031, 4096),
    (4096, 4096),
    (4099, 2048),
)
# How the rows lie in memory: packed, or a slice of a wider tensor (row stride
# larger than H, the rows not 16-byte aligned past the first).
LAYOUTS = ("contiguous", "strided")
# Input magnitudes: "normal" N(0,1); "tiny" ~1e-4, where eps dominates
# mean(x^2); "outlier" rows and channels of 100-3000 like LLM activations,
# whose squares overflow fp16 (65504) unless the statistics are in fp32.
MAGNITUDES = ("normal", "tiny", "outlier")

# World sizes an all-reduce case may name (--normfusion-case selects from all of them).
WORLD_SIZES = (1, 2, 4, 8)
# All-reduce rows: (tokens, hidden, layout, magnitude, eps). Each rank builds and
# judges every rank's inputs, so rows are few; together they still cover T=1,
# odd H, strided rows, eps-dominated and outlier inputs, a few hundred tokens.
ALLREDUCE_QUICK_ROWS = (
    (1, 4096, "contiguous", "normal", 1e-6),  # decode: one token, realistic H
    (7, 67, "strided", "tiny", 1e-5),  # odd H, row-strided, eps dominates mean(x^2)
    (300, 1031, "contiguous", "outlier", 1e-6),  # a few hundred tokens, odd H, LLM-like outliers
)
# The full matrix: more shapes, every layout and magnitude.
ALLREDUCE_FULL_SHAPES = ((1, 1), (1, 4096), (7, 67), (33, 5125), (300, 1031), (1024, 4096))

_DTYPE_NAMES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


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
    magnitude: str = "normal"  # one of MAGNITUDES
    residual: bool = False  # fused_add always; allreduce optionally
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"Case has unknown op {self.op!r}; expected one of {OPS}")
        if self.weight == "none" and self.weight_bias != 0.0:
            raise ValueError(f"Case {self.op}: weight_bias needs a weight")
        if self.op == "fused_add_rms_norm" and not self.residual:
            raise ValueError("Case fused_add_rms_norm always has a residual")

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
    def torch_dtype(self):  # -> torch.dtype, imported lazily
        import torch

        return getattr(torch, _DTYPE_NAMES[self.dtype])

    @property
    def weight_torch_dtype(self):  # -> torch.dtype | None
        import torch

        return None if self.weight == "none" else getattr(torch, _DTYPE_NAMES[self.weight])

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


def weight_options(dtype: str) -> tuple[tuple[str, float], ...]:
    """(weight dtype, weight_bias) pairs for an x dtype: none, same dtype, fp32."""
    weights = ("none", dtype) if dtype == "fp32" else ("none", dtype, "fp32")
    return tuple((w, b) for w in weights for b in WEIGHT_BIASES if not (w == "none" and b))


def single_device_cases(dtypes: Iterable[str], *, full: bool) -> Iterator[Case]:
    """rms_norm and fused_add_rms_norm over every dtype pairing, shape, layout and magnitude."""
    shapes = FULL_SHAPES if full else QUICK_SHAPES
    for op, dtype in itertools.product(SINGLE_DEVICE_OPS, dtypes):
        for (weight, bias), eps, (t, h), layout, magnitude in itertools.product(
            weight_options(dtype), EPSILONS, shapes, LAYOUTS, MAGNITUDES
        ):
            yield Case(op, dtype, weight, bias, t, h, eps, layout, magnitude, op != "rms_norm")


def allreduce_cases(dtypes: Iterable[str], world_sizes: Iterable[int], *, full: bool) -> Iterator[Case]:
    """allreduce_rms_norm per world size, with and without residual, over every dtype pairing."""
    if full:
        rows = [
            (t, h, layout, magnitude, 1e-5 if magnitude == "tiny" else 1e-6)
            for (t, h), layout, magnitude in itertools.product(ALLREDUCE_FULL_SHAPES, LAYOUTS, MAGNITUDES)
        ]
    else:
        rows = list(ALLREDUCE_QUICK_ROWS)
    for world_size, dtype in itertools.product(sorted(world_sizes), dtypes):
        for (weight, bias), (t, h, layout, magnitude, eps), residual in itertools.product(
            weight_options(dtype), rows, (False, True)
        ):
            yield Case("allreduce_rms_norm", dtype, weight, bias, t, h, eps, layout, magnitude, residual, world_size)


def parse_dtypes(value: str) -> tuple[str, ...]:
    """``"bf16,fp16"`` -> ``("fp16", "bf16")`` in table order; raises ValueError naming the choices."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in DTYPES]
    if unknown or not names:
        raise ValueError(f"unknown dtype {', '.join(unknown) or repr(value)}; choose from {','.join(DTYPES)}")
    return tuple(d for d in DTYPES if d in names)
