"""Per-case records: which check a problem names, and the record of a test whose worker crashed."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.judge_allreduce import check_reduced_residual
from pytest_normfusion.core.outcome import Check
from pytest_normfusion.core.single import run_single_device
from pytest_normfusion.core.tolerance import DEFAULT
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.results import crashed_record


def _outcome(impl: str, case: Case):
    return run_single_device(load_candidate(impl), case, seed=0, device="cpu")


CASE = Case("rms_norm", "bf16", "bf16", 0.0, 3, 8, 1e-6)
FUSED = Case("fused_add_rms_norm", "bf16", "bf16", 0.0, 3, 8, 1e-6, residual=True)


@pytest.mark.parametrize(
    ("impl", "checks"),
    [
        ("broken:NonTensor", ["output-type"]),
        ("broken:WrongDtype", ["output-dtype"]),
        ("broken:WrongShape", ["output-shape"]),
        ("broken:WrongDevice", ["output-device"]),
        ("broken:Raises", ["raised"]),
        ("broken:SupportsRaises", ["supports-raised"]),
        ("broken:ModifiesWeight", ["weight-modified"]),
        ("candidates:ResidualNotReturned", ["residual"]),
        ("candidates:IgnoresWeightBias", ["numerics"]),
    ],
)
def test_failed_checks_name_the_check_that_found_the_problem(impl: str, checks: list[str]) -> None:
    case = FUSED if impl == "candidates:ResidualNotReturned" else CASE
    if impl == "candidates:IgnoresWeightBias":
        case = dataclasses.replace(case, weight_bias=1.0)
    assert _outcome(impl, case).failed_checks == checks


def test_an_allreduce_residual_failure_is_a_residual_problem() -> None:
    """The all-reduce judge files a wrong residual_out under the residual check (it was filed as 'other')."""
    case = Case("allreduce_rms_norm", "bf16", "bf16", 0.0, 3, 8, 1e-6, residual=True, world_size=2)
    sums = torch.ones(3, 8, dtype=torch.float64)
    problem = check_reduced_residual(case, torch.zeros(3, 8, dtype=torch.bfloat16), sums, sums, DEFAULT)
    assert problem is not None and problem.check is Check.RESIDUAL


def _crash(nodeid: str) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid, ("x", None, "x"), {}, "failed", f"worker 'gw0' crashed while running {nodeid!r}", "???"
    )  # type: ignore[arg-type]


def test_crashed_record_splits_impl_and_case() -> None:
    nodeid = "test_norms.py::test_norm[my-impl-fused_add_rms_norm-bf16-w_bf16-bias0-T1xH1-eps1e-05-contiguous-normal]"
    rec = crashed_record(_crash(nodeid), ["my", "my-impl"])
    assert rec is not None
    assert (rec.check, rec.impl, rec.op, rec.status, rec.failed_checks) == (
        "norm",
        "my-impl",
        "fused_add_rms_norm",
        "error",
        ["crashed"],
    )
    assert rec.id == "fused_add_rms_norm-bf16-w_bf16-bias0-T1xH1-eps1e-05-contiguous-normal"
    assert rec.reason.startswith("worker 'gw0' crashed while running")


def test_crashed_record_ignores_other_tests() -> None:
    assert crashed_record(_crash("tests/test_other.py::test_thing[a-b]"), ["reference"]) is None
    assert crashed_record(_crash("tests/test_other.py::test_plain"), ["reference"]) is None
