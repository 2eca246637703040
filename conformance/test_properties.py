"""Property-based conformance: rms_norm and fused_add_rms_norm on drawn shapes, strides, magnitudes, eps.

Runs with --normfusion-hypothesis[=ci|certify] when hypothesis is installed;
skipped with the reason otherwise.
"""

from __future__ import annotations

import importlib.util

import pytest

from pytest_normfusion.core.case import SINGLE_DEVICE_OPS
from pytest_normfusion.harness import NormfusionSession


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = NormfusionSession.of(metafunc.config)
    params = [
        pytest.param(c, op, id=f"{c.name}-properties-{op}") for c in session.candidates for op in SINGLE_DEVICE_OPS
    ]
    metafunc.parametrize(("nf_candidate", "nf_op"), params)


def test_properties(nf_candidate, nf_op, normfusion: NormfusionSession, request: pytest.FixtureRequest) -> None:
    settings = normfusion.settings
    if settings.hypothesis is None:
        pytest.skip("property-based layer not requested: add --normfusion-hypothesis=ci (or =certify)")
    if importlib.util.find_spec("hypothesis") is None:
        pytest.skip("hypothesis is not installed: pip install hypothesis (or pytest-normfusion[test])")
    if nf_candidate.method(nf_op) is None:
        pytest.skip(f"{nf_candidate.name} has no {nf_op}")
    from pytest_normfusion.core.properties import check

    outcome, case = check(
        nf_candidate,
        nf_op,
        session_seed=settings.seed,
        test_id=request.node.callspec.id,
        budget=settings.hypothesis,
        dtypes=settings.dtypes,
        timeout=settings.case_timeout,
    )
    normfusion.settle_property(request.node, nf_candidate, nf_op, outcome, case)
