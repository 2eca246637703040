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

from pytest_normfusion.core.outcome import Check, Outcome, Problem
from pytest_normfusion.core.status import Status
from pytest_normfusion.harness import NormfusionSession
from pytest_normfusion.perf import allreduce, benchmark, sweep, timing, verdict
from pytest_normfusion.ranks.rank import RankFailure

NO_CUDA = "perf checks time CUDA-graph replays with CUDA events: no CUDA device (run them on a GPU host)"

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = NormfusionSession.of(metafunc.config)
    settings = session.settings
    if settings.device != "cuda":
        _skip_all(metafunc, session, NO_CUDA, "no-cuda")
        return
    if metafunc.function.__name__ == "test_allreduce_speed":
        sizes = settings.world_sizes
        if not any(s >= 2 for s in sizes):
            _skip_all(metafunc, session, f"no world size of 2 or more among {sizes} (one GPU per rank)", "one-rank")
            return
        cases = settings.select(
            allreduce.sweep(settings.dtypes, sizes, full=settings.full),
            allreduce.sweep(sweep.PERF_DTYPES, sizes, full=True),
        )
    else:
        cases = settings.select(
            sweep.sweep(settings.dtypes, full=settings.full), sweep.sweep(sweep.PERF_DTYPES, full=True)
        )
    session.parametrize(metafunc, cases)


def _skip_all(metafunc: pytest.Metafunc, session: NormfusionSession, reason: str, label: str) -> None:
    """One test per candidate that skips with ``reason``."""
    marks = pytest.mark.skip(reason=reason)
    params = [pytest.param(c, None, id=f"{c.name}-{label}", marks=marks) for c in session.candidates]
    metafunc.parametrize(("nf_candidate", "nf_case"), params)


def _settle(normfusion: NormfusionSession, request: pytest.FixtureRequest, case, problems: list[str], metrics) -> None:
    candidate = request.node.callspec.params["nf_candidate"]
    found = [Problem(Check.SPEED, p) for p in problems]
    outcome = Outcome(Status.FAILED if found else Status.PASSED, found, metrics=metrics)
    normfusion.settle(request.node, candidate, case, outcome)


def test_speed(nf_candidate, nf_case, normfusion: NormfusionSession, request: pytest.FixtureRequest) -> None:
    settings = normfusion.settings
    declined = sweep.not_timed(nf_candidate, nf_case)
    if declined:
        normfusion.settle(request.node, nf_candidate, nf_case, Outcome(Status.SKIPPED, note=f"not timed: {declined}"))
        return
    result = sweep.time_against(
        nf_candidate, nf_case, settings.perf_peers, settings.device, settings.seed, settings.min_speedup
    )
    metrics = result.metrics(nf_case, timing.copy_bandwidth(settings.device))
    bench = benchmark.benchmark_fixture(request)
    if bench is not None:
        bench.group = f"{nf_case.op}-{nf_case.dtype}-H{nf_case.hidden}"
        benchmark.store_in_benchmark(bench, result.timing, metrics)
    _settle(normfusion, request, nf_case, result.problems(nf_candidate.name), metrics)


def test_allreduce_speed(nf_candidate, nf_case, normfusion: NormfusionSession, request: pytest.FixtureRequest) -> None:
    settings = normfusion.settings
    declined = sweep.not_timed(nf_candidate, nf_case) or settings.world_size_unavailable(nf_case.world_size)
    if declined:
        normfusion.settle(request.node, nf_candidate, nf_case, Outcome(Status.SKIPPED, note=f"not timed: {declined}"))
        return
    payload = (nf_candidate.spec, nf_case, settings.seed)
    try:
        ranks = normfusion.ranks.run(nf_case.world_size, allreduce.rank_job, payload)
    except RankFailure as exc:
        status = Status.TIMEOUT if exc.timed_out else Status.ERROR
        outcome = Outcome(status, [Problem(Check.TIMEOUT if exc.timed_out else Check.RANKS, str(exc))])
        normfusion.settle(request.node, nf_candidate, nf_case, outcome)
        return
    problems, metrics = verdict.allreduce_verdict(nf_candidate.name, ranks, settings.min_speedup)
    _settle(normfusion, request, nf_case, problems, metrics)
