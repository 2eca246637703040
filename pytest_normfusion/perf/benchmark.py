"""The bridge to pytest-benchmark: our CUDA-event samples become its rounds (the one perf module that
touches pytest)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_normfusion.perf.timing import Timing


def benchmark_fixture(request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's ``benchmark`` fixture where that plugin is active and not skipping, else None."""
    if request.config.getoption("benchmark_skip", False):
        return None
    try:
        return request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:  # pytest-benchmark not installed, or -p no:benchmark
        return None


def store_in_benchmark(benchmark: Any, timed: Timing, info: dict[str, Any]) -> None:
    """Hand our CUDA-event samples to pytest-benchmark as its rounds, and the record as extra_info.

    pytest-benchmark has no public way to take externally timed rounds; its
    ``_make_stats`` is what ``benchmark(...)`` itself uses (5.x). If it is gone,
    the samples still ride ``extra_info``.
    """
    benchmark.extra_info.update(info, samples_s=list(timed.samples))
    benchmark._mode = "CUDA-event timing (pytest-normfusion)"  # used: no "fixture was not used" warning
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None or getattr(benchmark, "disabled", False):  # e.g. disabled under xdist
        return
    stats = make_stats(1)
    for sample in timed.samples:
        stats.update(sample)
