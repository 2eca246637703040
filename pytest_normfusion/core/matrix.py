"""The case matrix: commented tables of shapes, layouts and magnitudes, and the generators of ``Case``s.

No torch import here: the plugin builds the matrix before any candidate loads.
Every table is a tuple, so the order (and so xdist's collection) is the same in
every process.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from pytest_normfusion.core.case import DTYPES, LAYOUTS, MAGNITUDES, SINGLE_DEVICE_OPS, Case

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
