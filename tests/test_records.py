"""Per-case records: which check a problem names, and the record of a test whose worker crashed."""

from __future__ import annotations

import pytest

from pytest_normfusion.results import crashed_record
from pytest_normfusion.runner import failed_checks


@pytest.mark.parametrize(
    ("problem", "check"),
    [
        ("y is list, not a Tensor", "output-type"),
        ("fused_add_rms_norm must return (y, residual_out), got Tensor", "output-type"),
        ("residual_out.dtype=torch.float32, but should be torch.float16", "output-dtype"),
        ("y.shape=torch.Size([24]), but should be torch.Size([3, 8])", "output-shape"),
        ("y.device=meta, but should be cpu", "output-device"),
        ("y has 3 / 24 NaN/Inf elements where the fp64 ideal is finite; first y[0, 1] = nan", "nonfinite"),
        ("y conforms to no allowed profile (allowed: 1 / 24 elements may differ)\n  profile fp32 ...", "numerics"),
        ("y is 41.5 ulp from the fp64 ideal (allowed 16.0 for H=64); worst y[0, 3] = 1", "numerics"),
        ("residual_out is not x + residual rounded to torch.bfloat16: 3 / 24 elements differ", "residual"),
        ("weight was modified in place: 8 / 8 elements changed", "weight-modified"),
        ("something the table does not know", "other"),
    ],
)
def test_failed_checks_name_the_source(problem: str, check: str) -> None:
    assert failed_checks([problem]) == [check]


def test_failed_checks_sorted_and_unique() -> None:
    problems = ["weight was modified in place: 1 / 8 elements changed", "y.device=meta, but should be cpu"] * 2
    assert failed_checks(problems) == ["output-device", "weight-modified"]


def _crash(nodeid: str) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid, ("x", None, "x"), {}, "failed", f"worker 'gw0' crashed while running {nodeid!r}", "???"
    )  # type: ignore[arg-type]


def test_crashed_record_splits_impl_and_case() -> None:
    nodeid = "test_norms.py::test_norm[my-impl-fused_add_rms_norm-bf16-w_bf16-bias0-T1xH1-eps1e-05-contiguous-normal]"
    rec = crashed_record(_crash(nodeid), ["my", "my-impl"])
    assert rec is not None
    assert (rec["check"], rec["impl"], rec["op"], rec["status"], rec["failed_checks"]) == (
        "norm",
        "my-impl",
        "fused_add_rms_norm",
        "error",
        ["crashed"],
    )
    assert rec["case"] == "fused_add_rms_norm-bf16-w_bf16-bias0-T1xH1-eps1e-05-contiguous-normal"
    assert rec["reason"].startswith("worker 'gw0' crashed while running")


def test_crashed_record_ignores_other_tests() -> None:
    assert crashed_record(_crash("tests/test_other.py::test_thing[a-b]"), ["reference"]) is None
    assert crashed_record(_crash("tests/test_other.py::test_plain"), ["reference"]) is None
