"""Pure statistics over lists of floats (unit-tested exactly on CPU), and the one tie rule of every
perf verdict."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

# A median's ~95 % interval is median +- NOTCH * IQR / sqrt(repeats): the notch of a box
# plot (McGill, Tukey and Larsen, 1978). Two medians whose intervals overlap are a tie.
NOTCH = 1.57
# ... and never narrower than +- this fraction of the median: what a median moves by between two
# preparations of the same calls (their own inputs and graph), which one preparation's repeats do
# not show. The same kernel prepared twice, as two candidates, gave ratios of medians with a
# standard deviation of 0.56 % on the H200 (416 checks, T 1 to 32768, largest 1.83 % short); a band
# of 3.5 of those deviations, about 2 %, is 1 % a side (docs/performance.md, "Checks").
PREPARATION_SPREAD = 0.01


@dataclasses.dataclass(frozen=True)
class Summary:
    """Median and spread of repeated samples."""

    median: float
    low: float  # smallest sample
    high: float  # largest sample
    iqr: float  # 75th minus 25th percentile
    n: int


def quantile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of ``samples`` (numpy's default method), ``0 <= q <= 1``."""
    if not samples:
        raise ValueError("quantile of no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile q={q} is outside [0, 1]")
    ordered = sorted(samples)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(samples: Sequence[float]) -> float:
    return quantile(samples, 0.5)


def summarize(samples: Sequence[float]) -> Summary:
    """Median, min, max and interquartile range."""
    return Summary(
        median=median(samples),
        low=min(samples),
        high=max(samples),
        iqr=quantile(samples, 0.75) - quantile(samples, 0.25),
        n=len(samples),
    )


def norm_bytes(tokens: int, hidden: int, itemsize: int, weight_itemsize: int, residual: bool) -> int:
    """Bytes a norm must move: x (and residual) and the weight read once, y (and r_out) written once.

    ``weight_itemsize`` is 0 for no weight.
    """
    streams = 4 if residual else 2  # x, y; plus residual in and residual out
    return streams * tokens * hidden * itemsize + hidden * weight_itemsize


def gbps(nbytes: float, seconds: float) -> float:
    """Decimal GB/s."""
    if seconds <= 0:
        raise ValueError(f"gbps of a non-positive time {seconds}")
    return nbytes / seconds / 1e9


def median_interval(summary: Summary) -> tuple[float, float]:
    """The median's ~95 % interval from its repeats (``NOTCH``), at least +- ``PREPARATION_SPREAD`` of it."""
    half = max(NOTCH * summary.iqr / math.sqrt(summary.n), PREPARATION_SPREAD * summary.median)
    return summary.median - half, summary.median + half


def shortfall(mine: Summary, rival: Summary, min_speedup: float) -> bool | None:
    """Whether ``mine`` (times, lower is faster) falls short of ``min_speedup`` x ``rival``: None when
    the ratio of medians meets it, False when it misses it only within the medians' intervals (a
    tie, which passes), True when it misses it beyond them."""
    if rival.median / mine.median >= min_speedup:
        return None
    return median_interval(rival)[1] < min_speedup * median_interval(mine)[0]
