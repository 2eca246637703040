"""Single-device conformance: rms_norm and fused_add_rms_norm over the matrix."""

from __future__ import annotations

import pytest

from pytest_normfusion import matrix
from pytest_normfusion.plugin import SETTINGS
from pytest_normfusion.runner import run_single_device
from pytest_normfusion.session import parametrize, settle


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    settings = metafunc.config.stash[SETTINGS]
    cases = settings.select(
        matrix.single_device_cases(settings.dtypes, full=settings.full),
        matrix.single_device_cases(matrix.DTYPES, full=True),
    )
    parametrize(metafunc, cases, settings)


def test_norm(nf_candidate, nf_case, normfusion_settings, request: pytest.FixtureRequest) -> None:
    settings = normfusion_settings
    outcome = run_single_device(nf_candidate, nf_case, settings.seed, settings.resolved_device, settings.case_timeout)
    settle(request.node, nf_candidate, nf_case, outcome, settings)
