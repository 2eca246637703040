"""Judge one rank's all-reduce + RMSNorm outputs (docs/allreduce-tolerance.md).

An all-reduce may sum in x.dtype (NCCL does for bf16), so the pre-norm sum can
differ from the fp32 one by the roundings the reduction adds. A rank's outputs
conform when

1. ``residual_out`` is the exact sum (over ranks of x, plus r) within what a
   reduction in x.dtype can add (``reduction_bound``), and
2. ``y`` conforms to a profile of the fp32 sum (the single-device judge) or,
   failing that, is the norm of the candidate's own ``residual_out`` within
   ``reduced_sum_ulp``: the fused add applied to the sum it actually reduced to.

fp32 outputs are judged against the fp64 ideal of the candidate's own sum
(``residual_out`` is that sum, unrounded). Errors against the fp64 ideal of the
exact sum are always reported.
"""

from __future__ import annotations

import torch

from pytest_normfusion.core import judge
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Check, Problem
from pytest_normfusion.core.tolerance import Tolerances
from pytest_normfusion.reference import norm_of_sum

# u: one rounding to nearest moves a value v by at most u |v| (half an ulp).
UNIT_ROUNDOFF = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8, torch.float32: 2.0**-24}
# Below the normal range a rounding moves a value by up to half the subnormal spacing instead.
_SUBNORMAL_HALF_SPACING = {torch.float16: 2.0**-25, torch.bfloat16: 2.0**-134, torch.float32: 2.0**-150}


def reduction_bound(case: Case, abs_sum: torch.Tensor, s64: torch.Tensor, tol: Tolerances) -> torch.Tensor:
    """Largest ``|residual_out - s|`` per element for a sum reduced in x.dtype, then rounded to it.

    ``abs_sum`` is ``sum |x_i| + |r|`` and ``s64`` the exact sum, both fp64. With
    ``m`` roundings of partial sums, each at most ``u |partial| <= u abs_sum``, the
    sum is off by at most ``gamma_m abs_sum`` (``gamma_m = m u / (1 - m u)``, any
    summation order); rounding the result to x.dtype adds ``u |result|``.
    """
    u = UNIT_ROUNDOFF[case.torch_dtype]
    tiny = _SUBNORMAL_HALF_SPACING[case.torch_dtype]
    m = tol.reduction_roundings(case.world_size, case.residual)
    reduced = m * u / (1 - m * u) * abs_sum + m * tiny
    return reduced + u * (s64.abs() + reduced) + tiny


def fp32_reduction_error(case: Case, abs_sum: torch.Tensor, tol: Tolerances) -> torch.Tensor:
    """How far a reduction in fp32, in any order, may move the exact sum: ``gamma_m abs_sum`` (section 1)."""
    u, m = UNIT_ROUNDOFF[torch.float32], tol.reduction_roundings(case.world_size, case.residual)
    return m * u / (1 - m * u) * abs_sum + m * _SUBNORMAL_HALF_SPACING[torch.float32]


def check_reduced_residual(
    case: Case, r_out: torch.Tensor, s64: torch.Tensor, abs_sum: torch.Tensor, tol: Tolerances
) -> Problem | None:
    """``residual_out`` must be the all-reduced sum (+ residual) within ``reduction_bound``."""
    r = r_out.detach()
    s64, abs_sum = s64.to(r.device), abs_sum.to(r.device)
    representable = torch.isfinite(s64.to(r.dtype))  # an exact sum past the dtype's range rounds to Inf
    nonfinite = ~torch.isfinite(r) & representable
    if nonfinite.any():
        i = int(nonfinite.flatten().int().argmax())
        return Problem(
            Check.NONFINITE,
            f"residual_out has {int(nonfinite.sum())} / {r.numel()} NaN/Inf elements where the exact sum is "
            f"finite in {r.dtype}; first residual_out{judge.element_index(i, r.shape)} = {r.flatten()[i].item()} "
            f"(exact sum {judge.fmt_value(s64.flatten()[i].item())})",
        )
    bound = reduction_bound(case, abs_sum, s64, tol)
    err = torch.where(representable, (r.double() - s64).abs(), 0.0)
    over = err > bound
    n_over, i = torch.stack([over.sum(), torch.where(over, err / bound, 0.0).flatten().argmax()]).tolist()
    if not n_over:
        return None
    m = tol.reduction_roundings(case.world_size, case.residual)
    return Problem(
        Check.RESIDUAL,
        f"residual_out is not the all-reduced sum{' + residual' if case.residual else ''}: "
        f"{n_over} / {r.numel()} elements are further from the exact sum than {m:g} roundings "
        f"in {case.dtype} can take them; worst residual_out{judge.element_index(i, r.shape)} = "
        f"{judge.fmt_value(r.flatten()[i].item())}, exact sum {judge.fmt_value(s64.flatten()[i].item())} "
        f"(off by {err.flatten()[i].item():.3g}, allowed {bound.flatten()[i].item():.3g})",
    )


def _own_sum(
    case: Case, y: torch.Tensor, r_out: torch.Tensor, weight: torch.Tensor | None, tol: Tolerances
) -> tuple[str | None, list[str]]:
    """(profile name, []) when ``y`` is the norm of ``r_out`` within ``reduced_sum_ulp``, else (None, why not)."""
    s = r_out.detach().float()
    w = None if weight is None else weight.to(s.device)
    lines = []
    allowed = {p.multiply: why for p, why in judge.profiles(case)}
    for multiply, why in allowed.items():
        ref, _ = norm_of_sum(s, w, case.eps, case.weight_bias, y.dtype, multiply, "fp32-sum")
        diff = judge.ulp_distance(y, ref)
        worst, i = torch.stack([diff.max(), diff.flatten().argmax()]).tolist() if diff.numel() else (0, 0)
        bound = tol["reduced_sum_ulp" if multiply == "fp32" else "reduced_sum_ulp_double_rounding"]
        if why is None and worst <= bound:
            return f"{multiply}/reduced-in-{case.dtype}", []
        state = f"not allowed: {why}" if why else f"allowed within {bound:g} ulp"
        lines.append(
            f"  multiply {multiply:<12} max {worst} ulp, worst y{judge.element_index(i, y.shape)} = "
            f"{judge.fmt_value(y.flatten()[i].item())} vs {judge.fmt_value(ref.flatten()[i].item())}  [{state}]"
        )
    head = f"y is not the norm of the returned residual_out either (a sum reduced in {case.dtype}):"
    return None, [head, *lines]


def judge_allreduce(
    case: Case,
    y: torch.Tensor,
    r_out: torch.Tensor,
    s32: torch.Tensor,
    s64: torch.Tensor,
    abs_sum: torch.Tensor,
    weight: torch.Tensor | None,
    tol: Tolerances,
) -> judge.Verdict:
    """One rank's ``(y, residual_out)``: ``s32``/``s64`` are the fp32/exact sums, ``abs_sum`` their magnitude."""
    dev = y.device
    s32, s64, abs_sum = s32.to(dev), s64.to(dev), abs_sum.to(dev)
    residual_problem = check_reduced_residual(case, r_out, s64, abs_sum, tol)
    # the strict profiles of the exact sum, with the band widened by what a reduction in fp32 (any
    # order) may move the sum; a rounded-sum kernel normalises its own residual_out once that is sound
    strict_args = dict(
        rounded=None if residual_problem else r_out.detach(),
        sum_error=fp32_reduction_error(case, abs_sum, tol),
    )
    strict = judge.judge(case, y, s32, s64, weight, tol, explain=False, **strict_args)
    y = y.detach()
    if case.torch_dtype == torch.float32:
        own = judge.judge(case, y, r_out.float(), r_out.double(), weight, tol)
        verdict = judge.Verdict(own.problems, "fp32", strict.max_ulp, strict.rel_err, strict.max_abs_at_zero)
    elif strict.passed or residual_problem or not torch.isfinite(y).all():
        verdict = strict
    else:
        profile, why_not = _own_sum(case, y, r_out, weight, tol)
        verdict = judge.Verdict([], profile, strict.max_ulp, strict.rel_err, strict.max_abs_at_zero)
        if profile is None:  # failed: judge again, naming a known mistake if y shows one
            named = judge.judge(case, y, s32, s64, weight, tol, **strict_args)
            verdict.problems = [*named.problems, Problem(Check.NUMERICS, "\n".join(why_not))]
    if residual_problem:
        verdict.problems.insert(0, residual_problem)
    return verdict
