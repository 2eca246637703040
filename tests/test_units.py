"""Exact-number tests of the reference, the ulp arithmetic, the bounds, the matrix and the inputs."""

from __future__ import annotations

import math

import pytest
import torch

from pytest_normfusion import reference
from pytest_normfusion.core import judge
from pytest_normfusion.core.case import STRIDE_PAD, Case
from pytest_normfusion.core.inputs import make_inputs
from pytest_normfusion.core.matrix import parse_dtypes
from pytest_normfusion.core.tolerance import DEFAULT, Tolerances

BF16_ONE_UP = 1 + 2**-7  # the bf16 value after 1.0


def test_ulp_distance_counts_representable_values():
    a = torch.tensor([1.0, 0.0, 1.0, -1.0], dtype=torch.bfloat16)
    b = torch.tensor([BF16_ONE_UP, -0.0, -1.0, -BF16_ONE_UP], dtype=torch.bfloat16)
    assert judge.ulp_distance(a, b).tolist() == [1, 0, 2 * 0x3F80, 1]
    f = torch.tensor([1.0], dtype=torch.float32)
    assert judge.ulp_distance(f, torch.nextafter(f, torch.tensor([2.0]))).tolist() == [1]


def test_ulps_from_ideal_uses_the_ideals_binade():
    ideal = torch.tensor([1.0, 1.0, 2.0**-20], dtype=torch.float64)
    got = torch.tensor([BF16_ONE_UP, 1.0 - 2**-8, 2.0**-20], dtype=torch.bfloat16)
    assert judge.ulps_from_ideal(got, ideal).tolist() == [1.0, 0.5, 0.0]
    fp16_subnormal_step = torch.tensor([2.0**-24], dtype=torch.float16)
    assert judge.ulps_from_ideal(fp16_subnormal_step, torch.tensor([0.0], dtype=torch.float64)).tolist() == [1.0]


def test_eps_sits_inside_the_square_root():
    x = torch.full((1, 4), 1e-3)
    y = reference.rms_norm(x, None, eps=1e-6)
    assert y[0, 0].item() == pytest.approx(1e-3 / math.sqrt(1e-6 + 1e-6), rel=1e-6)


def test_weight_bias_one_scales_by_one_plus_w():
    x = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    w = torch.randn(16, generator=torch.Generator().manual_seed(2)) * 0.3
    torch.testing.assert_close(
        reference.rms_norm(x, w, 1e-6, 1.0), reference.rms_norm(x, w + 1.0, 1e-6), rtol=0, atol=0
    )
    torch.testing.assert_close(reference.rms_norm(x, torch.zeros(16), 1e-6, 1.0), reference.rms_norm(x, None, 1e-6))


def test_reference_bf16_is_correctly_rounded_fp64_ideal():
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(64, 1024, generator=gen) * 30).bfloat16()
    w = torch.randn(1024, generator=gen)
    y = reference.rms_norm(x, w, 1e-6, 1.0)
    ideal = reference.ideal_norm_of_sum(x, w, 1e-6, 1.0)
    assert judge.ulps_from_ideal(y, ideal).max().item() <= 0.501


def test_fused_add_normalises_the_unrounded_sum_and_returns_the_rounded_one():
    gen = torch.Generator().manual_seed(4)
    x, r = (torch.randn(32, 512, generator=gen).bfloat16() for _ in range(2))
    w = torch.randn(512, generator=gen).bfloat16()
    y, r_out = reference.fused_add_rms_norm(x, r, w, 1e-5)
    assert torch.equal(r_out, (x.float() + r.float()).bfloat16())
    assert torch.equal(y, reference.rms_norm(x.float() + r.float(), w, 1e-5).bfloat16())
    y_rounded, _ = reference.fused_add_rms_norm(x, r, w, 1e-5, residual_sum="rounded-sum")
    assert 0 < int((y != y_rounded).sum()) < y.numel() // 2


def _bf16_case(**kw) -> Case:
    fields = dict(op="rms_norm", dtype="bf16", weight="bf16", weight_bias=0.0, tokens=8, hidden=256, eps=1e-6)
    return Case(**{**fields, **kw})


def test_judge_reports_differing_elements_outside_the_band_and_nonfinite():
    case = _bf16_case()
    inputs = make_inputs(case, seed=5)
    s32, s64 = inputs.x.float(), inputs.x.double()
    y = reference.rms_norm(inputs.x, inputs.weight, case.eps)
    assert judge.judge(case, y, s32, s64, inputs.weight, DEFAULT).profile == "fp32"
    flat = y.flatten().clone()
    flat.view(torch.int16)[:3] += 1  # 1 ulp off where no legal evaluation rounds (bf16 ties are rare)
    verdict = judge.judge(case, flat.view_as(y), s32, s64, inputs.weight, DEFAULT)
    assert not verdict.passed and "profile fp32 " in verdict.problems[0].text
    assert "3 / 2048 differ (0.146%), 3 outside the band" in verdict.problems[0].text
    flat[5] = float("nan")
    assert "NaN/Inf" in judge.judge(case, flat.view_as(y), s32, s64, inputs.weight, DEFAULT).problems[0].text


def test_input_dtype_profile_is_allowed_only_for_same_dtype_weight_without_bias():
    allowed = {
        c: {p.name for p, why in judge.profiles(c) if why is None}
        for c in (
            _bf16_case(),
            _bf16_case(weight="fp32"),
            _bf16_case(weight_bias=1.0),
            _bf16_case(op="fused_add_rms_norm", residual=True),
        )
    }
    assert list(allowed.values()) == [
        {"fp32", "input-dtype"},
        {"fp32"},
        {"fp32"},
        {"fp32/fp32-sum", "fp32/rounded-sum", "input-dtype/fp32-sum", "input-dtype/rounded-sum"},
    ]


def test_tolerances_table_and_overrides():
    assert DEFAULT.allowed_mismatches(10) == DEFAULT.allowed_mismatches(20_000) == 0  # the band holds the rest
    loose = Tolerances.for_candidate({"mismatch_fraction": (1e-3, "an approximate kernel, measured")})
    assert loose.allowed_mismatches(20_000) == 20
    assert DEFAULT.fp32_ulp(4096) == 10.5 + 64  # 10 u of fixed roundings, half an ulp, sqrt(H) of the sum
    tol = Tolerances.for_candidate({"half_ulp": (2, "approximate rsqrt, measured 2 ulp")})
    assert tol["half_ulp"] == 2 and tol.overrides["half_ulp"].reason.startswith("approximate")
    with pytest.raises(ValueError, match="needs a reason"):
        Tolerances.for_candidate({"half_ulp": (2, "")})
    with pytest.raises(ValueError, match="unknown tolerance nope"):
        Tolerances.for_candidate({"nope": (1, "x")})


def test_inputs_derive_from_seed_case_and_rank_alone():
    case = _bf16_case(op="allreduce_rms_norm", residual=True, world_size=2, layout="strided")
    a, b, other = make_inputs(case, 9), make_inputs(case, 9), make_inputs(case, 9, rank=1)
    assert torch.equal(a.x, b.x) and torch.equal(a.residual, other.residual) and torch.equal(a.weight, other.weight)
    assert not torch.equal(a.x, other.x)
    assert not torch.equal(a.x, make_inputs(case, 10).x)
    assert a.x.stride() == (case.hidden + STRIDE_PAD, 1)


def test_magnitude_classes_reach_their_ranges():
    normal, tiny, outlier = (
        make_inputs(_bf16_case(magnitude=m, tokens=64), 11).x.float().abs().max() for m in ("normal", "tiny", "outlier")
    )
    assert tiny < 1e-2 < normal < 10 < 256 < outlier  # outlier squares overflow fp16 (65504)


def test_case_id_and_validation():
    case = Case("rms_norm", "bf16", "fp32", 1.0, 83, 5125, 1e-6, "strided", "outlier")
    assert case.id == "rms_norm-bf16-w_fp32-bias1-T83xH5125-eps1e-06-strided-outlier"
    with pytest.raises(ValueError, match="weight_bias needs a weight"):
        _bf16_case(weight="none", weight_bias=1.0)
    assert parse_dtypes("fp32, bf16") == ("bf16", "fp32")
