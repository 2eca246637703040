"""The acceptance rule of docs/acceptance.md: a differing element counts only outside the rounding band.

Fresh random inputs, fp64 exact values; every bound comes from core/tolerance.py.
"""

from __future__ import annotations

import pytest
import torch

from pytest_normfusion import reference
from pytest_normfusion.core import judge, mistakes, single
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import make_inputs
from pytest_normfusion.core.status import Status
from pytest_normfusion.core.tolerance import DEFAULT
from pytest_normfusion.loading import load_candidate


def _case(dtype: str = "fp16", weight: str = "fp16", bias: float = 0.0, t: int = 16, h: int = 4096, **kw) -> Case:
    return Case("rms_norm", dtype, weight, bias, t, h, 1e-6, **kw)


def _sums(case: Case, seed: int):
    inputs = make_inputs(case, seed)
    return inputs, inputs.x.float(), inputs.x.double()


def _tie_distance(case: Case, z: torch.Tensor) -> torch.Tensor:
    """|z - nearest midpoint of the output dtype| in units of the band (fp32_ulp(H) fp32 ulps)."""
    dt = case.torch_dtype
    spacing = judge.ulp_of(z, dt)
    lower = z.to(torch.float32).to(dt).double()  # round, then step to the neighbour below z
    lower = torch.where(lower > z, lower - spacing, lower)
    return ((z - (lower + spacing / 2)).abs()) / (DEFAULT.fp32_ulp(case.hidden) * judge.ulp_of(z, torch.float32))


def _flip(y: torch.Tensor, i: int, z: torch.Tensor) -> torch.Tensor:
    """y with element i rounded the other way round z (to the neighbour on z's other side)."""
    flat = y.flatten().clone()
    step = 1 if float(z[i]) > float(flat[i]) else -1  # towards z, in value
    flat.view(torch.int16)[i] += step if float(flat[i]) >= 0 else -step  # in bits: magnitude order
    return flat.view_as(y)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_a_flip_inside_the_band_is_legal_and_outside_it_fails(dtype):
    case = _case(dtype, dtype)
    inputs, s32, s64 = _sums(case, seed=11)
    y = reference.rms_norm(inputs.x, inputs.weight, case.eps)
    z = reference.ideal_norm_of_sum(s64, inputs.weight, case.eps).flatten()
    dist = _tie_distance(case, z)
    near, far = int(dist.argmin()), int(dist.argmax())
    assert float(dist[near]) < 1 < float(dist[far])
    assert judge.judge(case, _flip(y, near, z), s32, s64, inputs.weight, DEFAULT).passed
    verdict = judge.judge(case, _flip(y, far, z), s32, s64, inputs.weight, DEFAULT)
    assert not verdict.passed and "1 outside the band" in verdict.problems[0].text


def test_input_dtype_profile_may_flip_its_first_rounding_inside_the_band():
    case = _case("fp16", "fp16")
    inputs, s32, s64 = _sums(case, seed=12)
    normed = reference.ideal_norm_of_sum(s64, None, case.eps).flatten()
    dist = _tie_distance(case, normed)
    i = int(dist.argmin())
    assert float(dist[i]) < 1
    q = reference.rms_norm(inputs.x, None, case.eps).flatten()  # the first rounding, as the reference does it
    q = _flip(q, i, normed)
    y = (q.view_as(inputs.x) * inputs.weight).flatten()  # the second rounding follows from the flipped value
    assert judge.judge(case, y.view_as(inputs.x), s32, s64, inputs.weight, DEFAULT).passed


def _sequential_rsqrt_up(x: torch.Tensor, eps: float) -> torch.Tensor:
    """A legal fp32 kernel: sequential sum of squares, an rsqrt 2 ulp high, a rounded 1/H."""
    s = x.float()
    acc = torch.zeros(s.shape[0], 1)
    for j in range(s.shape[1]):
        acc = acc + s[:, j : j + 1] ** 2
    inv = torch.rsqrt(acc * torch.tensor(1 / s.shape[1]) + eps)
    for _ in range(2):
        inv = torch.nextafter(inv, torch.full_like(inv, float("inf")))
    return (s * inv).to(x.dtype)


@pytest.mark.parametrize("seed", range(3))
def test_small_row_counts_are_not_stricter_than_the_arithmetic(seed):
    """Issue 13's false failure: fp16, T=2, H=8192, tiny inputs, no weight; a legal kernel of few rows passes."""
    case = Case("rms_norm", "fp16", "none", 0.0, 2, 8192, 1e-5, "strided", "tiny")
    inputs, s32, s64 = _sums(case, seed)
    y = _sequential_rsqrt_up(inputs.x, case.eps)
    assert judge.judge(case, y, s32, s64, None, DEFAULT).passed


@pytest.mark.parametrize(
    ("candidate", "case", "words"),
    [
        ("RoundedOnePlusW", _case("bf16", "bf16", 1.0), "it matches (1 + w) rounded to bf16 before the multiply"),
        ("RoundedOnePlusW", _case("fp16", "fp16", 1.0), "it matches (1 + w) rounded to fp16 before the multiply"),
        ("RoundedInverseRms", _case("bf16", "fp32", 1.0), "it matches the inverse RMS rounded to bf16"),
        ("RoundedInverseRms", _case("fp16", "none"), "it matches the inverse RMS rounded to fp16"),
        ("EpsOutsideSqrt", _case("fp16", "none", magnitude="tiny"), "it matches eps added outside the square root"),
        ("IgnoresWeightBias", _case("bf16", "bf16", 1.0), "it matches weight_bias=1 ignored"),
        ("IgnoresWeight", _case("fp16", "fp32"), "it matches the weight left out"),
        ("VarianceInInputDtype", _case("fp16", "fp16", magnitude="outlier"), "it matches statistics computed in fp16"),
        ("InputDtypeMultiply", _case("bf16", "fp32"), "it follows the input-dtype profile, which is not allowed here"),
        (
            "ResidualNotAdded",
            Case("fused_add_rms_norm", "bf16", "bf16", 0.0, 16, 1024, 1e-6, residual=True),
            "it matches the norm of x alone",
        ),
        (
            "ResidualNotReturned",
            Case("fused_add_rms_norm", "fp16", "fp16", 0.0, 16, 1024, 1e-6, residual=True),
            "residual_out is the input residual unchanged",  # a line of its own, before the residual check's
        ),
    ],
)
def test_a_known_mistake_is_named_first(candidate, case, words):
    cand = load_candidate(f"candidates:{candidate}")
    outcome = single.run_on_inputs(cand, case, make_inputs(case, seed=13))
    assert outcome.status is Status.FAILED
    first = outcome.problems[0].text.splitlines()[0]
    assert words in first, outcome.message


@pytest.mark.parametrize("candidate", ["InPlace", "InputDtypeMultiply", "RoundedSum", "RaisesOnMixed"])
def test_legal_candidates_pass_and_name_no_mistake(candidate):
    cand = load_candidate(f"candidates:{candidate}")
    for case in (
        _case("fp16", "fp16", t=2, h=8192, magnitude="tiny"),
        _case("bf16", "bf16", t=7, h=5120, magnitude="outlier"),
        Case("fused_add_rms_norm", "fp16", "fp16", 0.0, 7, 5120, 1e-5, residual=True),
    ):
        if cand.method(case.op) is None:
            continue
        outcome = single.run_on_inputs(cand, case, make_inputs(case, seed=14))
        assert outcome.status is Status.PASSED, outcome.message


def test_a_legal_output_names_no_mistake_even_when_asked():
    case = _case("fp16", "fp16", 1.0)
    inputs, s32, _ = _sums(case, seed=15)
    y = reference.rms_norm(inputs.x, inputs.weight, case.eps, 1.0)
    ref = reference.rms_norm(inputs.x, inputs.weight, case.eps, 1.0)
    row = judge._Row(judge.Profile("fp32", None), None, ref, 0, 0, 0, 0)
    assert mistakes.explain(case, y, s32, s32.to(y.dtype), inputs.weight, None, [row], lambda r: True) == []


def test_an_exact_zero_is_stated_absolutely_not_in_ulps():
    case = Case("rms_norm", "fp32", "none", 0.0, 2, 64, 1e-6)
    _, s32, s64 = _sums(case, seed=16)
    s32[0, 3], s64[0, 3] = 0.0, 0.0
    y = reference.rms_norm(s32, None, case.eps)
    tiny = torch.finfo(torch.float32).smallest_normal * torch.finfo(torch.float32).eps  # the subnormal step
    y[0, 3] = tiny
    verdict = judge.judge(case, y, s32, s64, None, DEFAULT)
    assert verdict.passed and verdict.max_ulp < DEFAULT.fp32_ulp(case.hidden)
    assert verdict.metrics()["max_abs_at_zero"] == pytest.approx(tiny)
    y[0, 3] = 1e-3  # far from an exact zero: fails, stated absolutely
    verdict = judge.judge(case, y, s32, s64, None, DEFAULT)
    assert not verdict.passed and "where the fp64 ideal is exactly 0" in verdict.problems[0].text
