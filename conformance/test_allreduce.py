"""All-reduce + RMSNorm conformance over world sizes: each rank judges its own outputs."""

from __future__ import annotations

import pytest

from pytest_normfusion import matrix
from pytest_normfusion.distributed import run_allreduce
from pytest_normfusion.plugin import SETTINGS
from pytest_normfusion.session import default_world_sizes, parametrize, resolve_device, settle


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    settings = metafunc.config.stash[SETTINGS]
    world_sizes = settings.world_sizes or default_world_sizes(resolve_device(settings.device))
    cases = settings.select(
        matrix.allreduce_cases(settings.dtypes, world_sizes, full=settings.full),
        matrix.allreduce_cases(matrix.DTYPES, matrix.WORLD_SIZES, full=True),
    )
    parametrize(metafunc, cases, settings)


def test_allreduce(nf_candidate, nf_case, normfusion_settings, request: pytest.FixtureRequest) -> None:
    outcome = run_allreduce(request.config, nf_candidate, nf_case, normfusion_settings.seed)
    settle(request.node, nf_candidate, nf_case, outcome, normfusion_settings)
