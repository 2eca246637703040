"""Speed checks (marker ``perf``, GPU only), verdicts as ratios of medians timed in one run
against ``--normfusion-min-speedup``:

- ``test_speed``: each candidate's norms against the reference and the peers of
  ``--normfusion-perf-peers``;
- ``test_allreduce_speed``: each candidate's all-reduce fusion against NCCL all_reduce
  + a fused-add norm, on the rank pool, at the world sizes the GPUs allow.

Collected only when ``-m`` selects them (``pytest -m perf``; the plugin's
``pytest_ignore_collect`` skips this file otherwise).
"""

from __future__ import annotations

import pytest

from pytest_normfusion import perf, pool, timing
from pytest_normfusion.plugin import PERF, SETTINGS
from pytest_normfusion.runner import Outcome
from pytest_normfusion.session import default_world_sizes, parametrize, resolve_device, settle

NO_CUDA = "perf checks time CUDA-graph replays with CUDA events: no CUDA device (run them on a GPU host)"

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    settings = metafunc.config.stash[SETTINGS]
    device = resolve_device(settings.device)
    if device != "cuda":
        _skip_all(metafunc, settings, NO_CUDA, "no-cuda")
        return
    if metafunc.function.__name__ == "test_allreduce_speed":
        sizes = settings.world_sizes or default_world_sizes(device)
        cases = settings.select(
            perf.allreduce_sweep(settings.dtypes, sizes, full=settings.full),
            perf.allreduce_sweep(perf.PERF_DTYPES, sizes, full=True),
        )
        if not any(s >= 2 for s in sizes):
            _skip_all(metafunc, settings, f"no world size of 2 or more among {sizes} (one GPU per rank)", "one-rank")
            return
    else:
        cases = settings.select(
            perf.sweep(settings.dtypes, full=settings.full), perf.sweep(perf.PERF_DTYPES, full=True)
        )
    parametrize(metafunc, cases, settings)


def _skip_all(metafunc: pytest.Metafunc, settings, reason: str, label: str) -> None:
    """One test per candidate that skips with ``reason`` (passed as the case)."""
    params = [pytest.param(c, reason, id=f"{c.name}-{label}") for c in settings.candidates]
    metafunc.parametrize(("nf_candidate", "nf_case"), params)


def test_speed(nf_candidate, nf_case, normfusion_settings, request: pytest.FixtureRequest) -> None:
    if isinstance(nf_case, str):
        pytest.skip(nf_case)
    declined = perf.not_timed(nf_candidate, nf_case)
    if declined:
        settle(request.node, nf_candidate, nf_case, Outcome("skipped", f"not timed: {declined}"), normfusion_settings)
        return
    options = request.config.stash[PERF]
    device = normfusion_settings.resolved_device
    result = perf.compare(nf_candidate, nf_case, options.peers, device, normfusion_settings.seed, options.min_speedup)
    metrics = result.metrics(nf_case, timing.copy_bandwidth(device))
    benchmark = perf.benchmark_fixture(request)
    if benchmark is not None:
        benchmark.group = f"{nf_case.op}-{nf_case.dtype}-H{nf_case.hidden}"
        perf.store_in_benchmark(benchmark, result.timing, metrics)
    problems = result.problems(nf_candidate.name)
    outcome = Outcome("failed" if problems else "passed", "\n".join(problems), metrics)
    settle(request.node, nf_candidate, nf_case, outcome, normfusion_settings)


def test_allreduce_speed(nf_candidate, nf_case, normfusion_settings, request: pytest.FixtureRequest) -> None:
    if isinstance(nf_case, str):
        pytest.skip(nf_case)
    declined = perf.not_timed(nf_candidate, nf_case) or pool.world_size_unavailable(request.config, nf_case.world_size)
    if declined:
        settle(request.node, nf_candidate, nf_case, Outcome("skipped", f"not timed: {declined}"), normfusion_settings)
        return
    payload = (nf_candidate.spec, nf_case, normfusion_settings.seed)
    try:
        ranks = pool.run_on_ranks(request.config, nf_case.world_size, perf.allreduce_rank_job, payload)
    except pool.RankFailure as exc:
        outcome = Outcome("timeout" if exc.timed_out else "error", str(exc))
        settle(request.node, nf_candidate, nf_case, outcome, normfusion_settings)
        return
    problems, metrics = perf.allreduce_verdict(nf_candidate.name, ranks, request.config.stash[PERF].min_speedup)
    outcome = Outcome("failed" if problems else "passed", "\n".join(problems), metrics)
    settle(request.node, nf_candidate, nf_case, outcome, normfusion_settings)
