"""Single-device conformance: rms_norm and fused_add_rms_norm over the matrix."""

from __future__ import annotations

import pytest

from pytest_normfusion.core import matrix
from pytest_normfusion.core.case import DTYPES
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.harness import NormfusionSession


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = NormfusionSession.of(metafunc.config)
    settings = session.settings
    cases = settings.select(
        matrix.single_device_cases(settings.dtypes, full=settings.full),
        matrix.single_device_cases(DTYPES, full=True),
    )
    session.parametrize(metafunc, cases)


def test_norm(nf_candidate, nf_case, normfusion: NormfusionSession, request: pytest.FixtureRequest) -> None:
    settings = normfusion.settings
    outcome = run_single_device(nf_candidate, nf_case, settings.seed, settings.device, settings.case_timeout)
    normfusion.settle(request.node, nf_candidate, nf_case, outcome)
