"""The FlashInfer candidate on a host without FlashInfer or CUDA: it loads, declines with
reasons, and its guards refuse what the kernels would get wrong."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from pytest_normfusion.impls import flashinfer as fi
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.matrix import Case

needs_no_flashinfer = pytest.mark.skipif(
    importlib.util.find_spec("flashinfer") is not None and torch.cuda.is_available(),
    reason="FlashInfer and CUDA are present: the unavailable path is not reachable",
)


def _case(**fields) -> Case:
    base = dict(op="rms_norm", dtype="bf16", weight="bf16", weight_bias=0.0, tokens=7, hidden=4096, eps=1e-6)
    return Case(**{**base, **fields})


@pytest.fixture
def available(monkeypatch: pytest.MonkeyPatch) -> fi.FlashInfer:
    """The candidate with FlashInfer taken as present, to reach the rules past availability."""
    monkeypatch.setattr(fi, "unavailable", lambda: None)
    return fi.FlashInfer()


@needs_no_flashinfer
def test_loads_by_entry_point_without_flashinfer() -> None:
    candidate = load_candidate("flashinfer")
    assert candidate.name == "flashinfer"
    assert candidate.capabilities()["ops"] == ["rms_norm", "fused_add_rms_norm", "allreduce_rms_norm"]
    reason = candidate.declines(_case())
    assert reason is not None and ("CUDA" in reason or "flashinfer" in reason)


@needs_no_flashinfer
def test_calls_raise_a_clear_error_without_flashinfer() -> None:
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    with pytest.raises(ImportError, match=r"flashinfer-python==0\.7\.2\.post1"):
        fi.FlashInfer().rms_norm(x, None, 1e-6)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dtype": "fp32", "weight": "fp32"}, "fp16 and bf16 only"),
        ({"weight": "fp32"}, "returns NaN"),
        ({"weight": "fp32", "weight_bias": 1.0, "op": "fused_add_rms_norm", "residual": True}, "returns NaN"),
        ({"layout": "strided", "hidden": 4096}, "not a multiple of the 8-element access"),
        ({"layout": "strided", "hidden": 24, "dtype": "fp16", "weight": "fp16"}, "8-element access for H=24"),
        ({"op": "allreduce_rms_norm", "world_size": 1}, "world sizes (2, 4, 8, 16)"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "hidden": 5125}, "H % 8 == 0"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "layout": "strided"}, "contiguous"),
        ({"op": "allreduce_rms_norm", "world_size": 4, "hidden": 24}, "fewer 16-byte accesses than ranks"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "tokens": 32768, "hidden": 4096}, "exceeds the workspace"),
    ],
)
def test_supports_declines_with_the_reason(available: fi.FlashInfer, fields: dict, expected: str) -> None:
    reason = available.supports(_case(**fields))
    assert isinstance(reason, str)
    assert expected in reason


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"weight": "none"},
        {"weight_bias": 1.0, "dtype": "fp16", "weight": "fp16"},
        {"layout": "strided", "hidden": 67},  # gcd(8, 67) = 1: any stride is aligned
        {"layout": "strided", "hidden": 4096, "tokens": 1},  # one row: the stride is never used
        {"op": "fused_add_rms_norm", "residual": True, "hidden": 5125, "layout": "strided"},
        {"op": "allreduce_rms_norm", "world_size": 2, "tokens": 8192, "hidden": 8192},
        {"op": "allreduce_rms_norm", "world_size": 4, "dtype": "fp32", "weight": "fp32", "hidden": 4096},
    ],
)
def test_supports_accepts_what_the_kernels_take(available: fi.FlashInfer, fields: dict) -> None:
    assert available.supports(_case(**fields)) is True


def test_norm_vector_size_follows_the_kernel_rule() -> None:
    assert [fi.norm_vector_size(h, 2) for h in (4096, 5120, 5125, 24, 12, 1)] == [8, 8, 1, 8, 4, 1]
    assert fi.norm_vector_size(4096, 4) == 4


def test_guards_refuse_misaligned_rows_and_mixed_dtypes() -> None:
    wide = torch.randn(4, 4096 + 3, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="misaligned address"):
        fi._check_rows("x", wide[:, :4096])
    fi._check_rows("x", wide[:1, :4096])  # a single row never uses its stride
    fi._check_rows("x", torch.randn(3, 67, dtype=torch.bfloat16)[:, :5])  # H=5: one element per access
    with pytest.raises(TypeError, match="returns NaN"):
        fi._check_dtypes(wide, torch.ones(4099))
    with pytest.raises(TypeError, match="fp16 or bf16"):
        fi._check_dtypes(torch.ones(2, 8), None)


def test_no_weight_becomes_exact_ones() -> None:
    x = torch.randn(2, 8, dtype=torch.float16)
    ones = fi._weight_or_ones(x, None)
    assert ones.dtype == torch.float16 and ones.shape == (8,) and bool((ones == 1).all())


@needs_no_flashinfer
def test_suite_shows_flashinfer_skipped_with_reasons(pytester: pytest.Pytester) -> None:
    case = "rms_norm-bf16-w_bf16-bias0-T7xH5120-eps1e-06-contiguous-normal"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "-k", "test_norm", "--normfusion-impl=flashinfer", f"--normfusion-case={case}"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*declined by supports(): FlashInfer needs a CUDA device*probed: raises ImportError*"])
