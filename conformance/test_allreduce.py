"""All-reduce + RMSNorm conformance over world sizes: each rank judges its own outputs."""

from __future__ import annotations

import pytest

from pytest_normfusion.core import allreduce, matrix
from pytest_normfusion.core.case import DTYPES
from pytest_normfusion.core.outcome import Outcome
from pytest_normfusion.core.status import Status
from pytest_normfusion.harness import NormfusionSession


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = NormfusionSession.of(metafunc.config)
    settings = session.settings
    cases = settings.select(
        matrix.allreduce_cases(settings.dtypes, settings.world_sizes, full=settings.full),
        matrix.allreduce_cases(DTYPES, matrix.WORLD_SIZES, full=True),
    )
    session.parametrize(metafunc, cases)


def test_allreduce(nf_candidate, nf_case, normfusion: NormfusionSession, request: pytest.FixtureRequest) -> None:
    unavailable = normfusion.settings.world_size_unavailable(nf_case.world_size)
    if unavailable and nf_candidate.method(nf_case.op) is not None:
        outcome = Outcome(Status.SKIPPED, note=unavailable)
    else:
        outcome = allreduce.run(normfusion.ranks, nf_candidate, nf_case, normfusion.settings.seed)
    normfusion.settle(request.node, nf_candidate, nf_case, outcome)
