"""Speed checks (marker ``perf``, GPU only): each candidate against the reference and the
peers of ``--normfusion-perf-peers``, timed in the same run; the verdict is a ratio of
medians against ``--normfusion-min-speedup``. Collected only when ``-m`` selects them
(``pytest -m perf``; the plugin's ``pytest_ignore_collect`` skips this file otherwise)."""

from __future__ import annotations

import pytest

from pytest_normfusion import perf, timing
from pytest_normfusion.plugin import PERF, SETTINGS
from pytest_normfusion.runner import Outcome
from pytest_normfusion.session import parametrize, resolve_device, settle

NO_CUDA = "perf checks time CUDA-graph replays with CUDA events: no CUDA device (run them on a GPU host)"

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    settings = metafunc.config.stash[SETTINGS]
    if resolve_device(settings.device) != "cuda":
        metafunc.parametrize(("nf_candidate", "nf_case"), [pytest.param(None, None, id="no-cuda")])
        return
    cases = settings.select(perf.sweep(settings.dtypes, full=settings.full), perf.sweep(perf.PERF_DTYPES, full=True))
    parametrize(metafunc, cases, settings)


def test_speed(nf_candidate, nf_case, normfusion_settings, request: pytest.FixtureRequest) -> None:
    if nf_case is None:
        pytest.skip(NO_CUDA)
    fn = nf_candidate.method(nf_case.op)
    declined = nf_candidate.declines(nf_case) if fn else f"{nf_candidate.name} has no {nf_case.op}"
    if declined:
        settle(request.node, nf_candidate, nf_case, Outcome("skipped", f"not timed: {declined}"), normfusion_settings)
        return
    options = request.config.stash[PERF]
    device = normfusion_settings.resolved_device
    result = perf.compare(nf_candidate, nf_case, options.peers, device, normfusion_settings.seed, options.min_speedup)
    metrics = result.metrics(nf_case, timing.copy_bandwidth(device))
    benchmark = _benchmark_fixture(request)
    if benchmark is not None:
        benchmark.group = f"{nf_case.op}-{nf_case.dtype}-H{nf_case.hidden}"
        perf.store_in_benchmark(benchmark, result.timing, metrics)
    problems = result.problems(nf_candidate.name)
    outcome = Outcome("failed" if problems else "passed", "\n".join(problems), metrics)
    settle(request.node, nf_candidate, nf_case, outcome, normfusion_settings)


def _benchmark_fixture(request: pytest.FixtureRequest):
    """pytest-benchmark's fixture when that plugin is active and not skipping benchmarks."""
    config = request.config
    if not config.pluginmanager.hasplugin("pytest_benchmark") or config.getoption("benchmark_skip", False):
        return None
    return request.getfixturevalue("benchmark")
