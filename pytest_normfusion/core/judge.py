"""Judge a candidate's outputs: profiles, ulp distances, the worst element, the message.

Half-precision outputs conform to a profile when every element that differs from
the profile's reference lies where the profile's exact value (fp64, before the
final rounding) is within the rounding band of a midpoint: legal fp32 evaluation
of that profile can move its value by at most ``fp32_ulp(H)`` fp32 ulps, so it
may round either way there and nowhere else (docs/acceptance.md). Elements
outside the band are hard mismatches; ``mismatch_fraction`` of them are allowed
(0 unless a candidate overrides it). fp32 outputs must stay within
``fp32_ulp(H)`` of the fp64 ideal. NaN or Inf where the ideal is finite always
fails.

Everything runs on the device the outputs are on (CUDA or CPU), vectorised; the
only host transfers are the few numbers a verdict and its message need.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from pytest_normfusion.core import mistakes
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Check, Problem
from pytest_normfusion.core.tolerance import Tolerances
from pytest_normfusion.reference import MULTIPLY_PROFILES, SUM_PROFILES, norm_of_sum

_MANTISSA_BITS = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23}
_MIN_EXPONENT = {torch.float16: -14, torch.bfloat16: -126, torch.float32: -126}
_INT_VIEW = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32}


@dataclasses.dataclass(frozen=True)
class Profile:
    """The two roundings production kernels differ in (DESIGN.md section 2)."""

    multiply: str  # "fp32" | "input-dtype"
    residual_sum: str | None  # "fp32-sum" | "rounded-sum"; None without a residual

    @property
    def name(self) -> str:
        return self.multiply if self.residual_sum is None else f"{self.multiply}/{self.residual_sum}"

    @property
    def double_rounding(self) -> bool:
        return self.multiply == "input-dtype" or self.residual_sum == "rounded-sum"


def profiles(case: Case) -> list[tuple[Profile, str | None]]:
    """Every profile with ``None`` if allowed for the case, else why it is not."""
    sums: tuple[str | None, ...] = SUM_PROFILES if case.residual or case.world_size > 1 else (None,)
    out = []
    for multiply in MULTIPLY_PROFILES:
        why = None
        if multiply == "input-dtype" and case.mixed_weight:
            why = (
                f"the weight is {case.weight} and x {case.dtype}: (w + weight_bias) must not be rounded to {case.dtype}"
            )
        elif multiply == "input-dtype" and case.weight_bias:
            why = f"weight_bias={case.weight_bias:g}: a rounded (1 + w) costs ~1 ulp everywhere"
        out.extend((Profile(multiply, s), why) for s in sums)
    return out


def ordered(t: torch.Tensor) -> torch.Tensor:
    """Float bits as int64 in the order of the values, so ulp distance is a subtraction."""
    bits = t.contiguous().view(_INT_VIEW[t.dtype]).long()
    magnitude = bits & (2 ** (8 * t.element_size() - 1) - 1)
    return torch.where(bits < 0, -magnitude, magnitude)


def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Representable values between ``a`` and ``b`` (same dtype); +0 and -0 are one value."""
    return (ordered(a) - ordered(b)).abs()


def ulp_of(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The spacing of ``dtype`` in the binade of fp64 ``v`` (the subnormal spacing below the normal range).

    Read from the bits of ``v`` (int64 shifts, the same on CUDA and CPU): 2 ** (exponent - mantissa bits).
    """
    exponent = ((v.view(torch.int64) >> 52) & 0x7FF) - 1023  # unbiased; -1023 for 0 and fp64 subnormals
    spacing = exponent.clamp_(min=_MIN_EXPONENT[dtype]) - _MANTISSA_BITS[dtype]
    return ((spacing + 1023) << 52).view(torch.float64)


def ulps_from_ideal(got: torch.Tensor, ideal: torch.Tensor) -> torch.Tensor:
    """``|got - ideal|`` in ulps of ``got.dtype`` at the ideal's magnitude (fp64 result).

    Where the ideal is exactly 0 the unit is the subnormal spacing; ``judge`` leaves those
    elements out of ``max_ulp`` and states them absolutely (``max_abs_at_zero``).
    """
    return (got.double() - ideal).abs() / ulp_of(ideal, got.dtype)


def relative_error(got: torch.Tensor, ideal: torch.Tensor) -> float:
    """Normwise ``||got - ideal|| / ||ideal||``."""
    num, denom = torch.stack([(got.double() - ideal).norm(), ideal.norm()]).tolist()
    return num / denom if denom else num


@dataclasses.dataclass
class Verdict:
    """What the judge found; ``problems`` empty means the case passed."""

    problems: list[Problem] = dataclasses.field(default_factory=list)
    profile: str | None = None
    max_ulp: float = 0.0  # vs the fp64 ideal, over the elements whose ideal is not exactly 0
    rel_err: float = 0.0  # vs the fp64 ideal, normwise
    max_abs_at_zero: float | None = None  # max |y| where the ideal is exactly 0; None when there is none

    @property
    def passed(self) -> bool:
        return not self.problems

    def metrics(self) -> dict[str, Any]:
        out = {"profile": self.profile, "max_ulp": round(self.max_ulp, 3), "rel_err": float(f"{self.rel_err:.4g}")}
        if self.max_abs_at_zero is not None:
            out["max_abs_at_zero"] = float(f"{self.max_abs_at_zero:.4g}")
        return out


def fmt_value(v: float) -> str:
    return f"{v:.8g}"


def element_index(flat: int, shape: torch.Size) -> str:
    return "[" + ", ".join(str(int(i)) for i in torch.unravel_index(torch.tensor(flat), shape)) + "]"


_ATTRIBUTE_CHECKS = {"dtype": Check.OUTPUT_DTYPE, "shape": Check.OUTPUT_SHAPE, "device": Check.OUTPUT_DEVICE}


def check_tensor(name: str, got: Any, like: torch.Tensor) -> Problem | None:
    """dtype, shape and device of an output, or why not."""
    if not isinstance(got, torch.Tensor):
        return Problem(Check.OUTPUT_TYPE, f"{name} is {type(got).__name__}, not a Tensor")
    for attr, check in _ATTRIBUTE_CHECKS.items():
        if getattr(got, attr) != getattr(like, attr):
            return Problem(check, f"{name}.{attr}={getattr(got, attr)}, but should be {getattr(like, attr)}")
    return None


def _nonfinite(name: str, got: torch.Tensor, ideal: torch.Tensor) -> Problem | None:
    bad = ~torch.isfinite(got) & torch.isfinite(ideal)
    first = bad.flatten().int().argmax()  # 0 when none; read back together with the count
    n, i = torch.stack([bad.sum(), first]).tolist()
    if not n:
        return None
    return Problem(
        Check.NONFINITE,
        f"{name} has {n} / {bad.numel()} NaN/Inf elements where the fp64 ideal is finite; "
        f"first {name}{element_index(i, got.shape)} = {got.flatten()[i].item()} (ideal {fmt_value(ideal.flatten()[i].item())})",
    )


@dataclasses.dataclass
class Sums:
    """A pre-norm sum as the judge needs it, on the outputs' device.

    ``s32`` is the fp32 sum the reference normalises, ``s64`` the exact sum, ``inv64``
    the exact inverse RMS of its rows; ``error`` (all-reduce only) bounds, per element,
    how far a legal fp32 reduction may move the sum, absolutely (docs/acceptance.md).
    """

    s32: torch.Tensor
    s64: torch.Tensor
    eps: float
    error: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.inv64 = torch.rsqrt(self.s64.square().mean(dim=-1, keepdim=True) + self.eps)


def _scale64(weight: torch.Tensor | None, weight_bias: float) -> torch.Tensor | None:
    return None if weight is None else weight.double() + weight_bias


def _band(
    z: torch.Tensor, k: float, sums: Sums | None, rows: torch.Tensor, cols: torch.Tensor, scale: torch.Tensor | None
) -> torch.Tensor:
    """How far legal fp32 evaluation may move the exact values ``z`` (fp64, gathered at rows/cols)."""
    delta = k * ulp_of(z, torch.float32)
    if sums is not None and sums.error is not None:
        # the reduction moves s_i by e_i: z_i by e_i * inv * |scale_i|, and the row's inverse RMS by
        # a relative rho = q / (2 (1 - q)), q = sum(2 |s| e + e^2) / (sum(s^2) + H eps)
        s, e = sums.s64, sums.error
        q = (2 * s.abs() * e + e.square()).sum(-1, keepdim=True) / (
            s.square().sum(-1, keepdim=True) + s.shape[-1] * sums.eps
        )
        rho = torch.where(q < 1, q / (2 * (1 - q).clamp(min=1e-300)), torch.inf)
        moved = e[rows, cols] * sums.inv64[rows, 0] * (1.0 if scale is None else scale[cols].abs())
        delta = delta + moved + z.abs() * rho[rows, 0]
    return delta


def _round_pair(z: torch.Tensor, delta: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest and highest values of ``dtype`` that fp32 values within ``delta`` of ``z`` round to.

    Rounding is monotone, so these are the roundings of the fp32 roundings of the interval's ends.
    """
    return (z - delta).float().to(dtype), (z + delta).float().to(dtype)


def _reference(
    case: Case, y: torch.Tensor, profile: Profile, sums: Sums, rounded: torch.Tensor, weight: torch.Tensor | None
) -> torch.Tensor:
    """The profile's fp32-computed reference (reference/norms.py), in the output dtype."""
    s32 = rounded.float() if profile.residual_sum == "rounded-sum" else sums.s32
    ref, _ = norm_of_sum(s32, weight, case.eps, case.weight_bias, y.dtype, profile.multiply, "fp32-sum")
    return ref


@dataclasses.dataclass
class _Row:
    """One profile's comparison with ``y``."""

    profile: Profile
    forbidden: str | None
    ref: torch.Tensor  # the profile's fp32-computed reference, in the output dtype
    differ: int  # elements unlike ref
    hard: int  # of those, outside the band
    worst: int  # largest ulp distance from ref
    worst_index: int  # a hard mismatch if any, else the farthest element


def _compare(
    case: Case,
    y: torch.Tensor,
    profile: Profile,
    forbidden: str | None,
    sums: Sums,
    rounded: torch.Tensor,
    weight: torch.Tensor | None,
    k: float,
    ref: torch.Tensor,
) -> _Row:
    """Where ``y`` differs from the profile's reference ``ref``, whether the exact value is within the band."""
    summed = profile.residual_sum or "fp32-sum"
    flat_y, flat_ref = y.reshape(-1), ref.reshape(-1)
    idx = (flat_y != flat_ref).nonzero().flatten()
    if not idx.numel():
        return _Row(profile, forbidden, ref, 0, 0, 0, 0)
    rows, cols = idx // y.shape[-1], idx % y.shape[-1]
    if summed == "rounded-sum":  # the rounded sum is exact: normalise it, and no reduction error is left
        exact = Sums(rounded.float(), rounded.double(), case.eps)
        band_sums = None
    else:
        exact, band_sums = sums, sums
    normed = exact.s64[rows, cols] * exact.inv64[rows, 0]
    scale = _scale64(weight, case.weight_bias)
    got = flat_y[idx]
    if profile.multiply == "fp32" or weight is None:
        z = normed if scale is None else normed * scale[cols]
        lo, hi = _round_pair(z, _band(z, k, band_sums, rows, cols, scale), y.dtype)
    else:  # input-dtype: the first rounding may flip inside the band; the second follows exactly
        q_lo, q_hi = _round_pair(normed, _band(normed, k, band_sums, rows, cols, None), y.dtype)
        w = (weight.to(y.dtype) + case.weight_bias)[cols].float()  # as the reference does, in the output dtype
        a, b = (q_lo.float() * w).to(y.dtype), (q_hi.float() * w).to(y.dtype)  # products of two halves are exact
        lo, hi = torch.where(ordered(a) <= ordered(b), a, b), torch.where(ordered(a) <= ordered(b), b, a)
    hard = (ordered(got) < ordered(lo)) | (ordered(got) > ordered(hi))
    dist = ulp_distance(got, flat_ref[idx])
    pick = torch.where(hard.any(), (dist * hard).argmax(), dist.argmax())
    n_hard, worst, at = torch.stack([hard.sum(), dist.max(), idx[pick]]).tolist()
    return _Row(profile, forbidden, ref, idx.numel(), n_hard, worst, at)


def judge(
    case: Case,
    y: torch.Tensor,
    s32: torch.Tensor,
    s64: torch.Tensor,
    weight: torch.Tensor | None,
    tol: Tolerances,
    *,
    x: torch.Tensor | None = None,
    rounded: torch.Tensor | None = None,
    sum_error: torch.Tensor | None = None,
    explain: bool = True,
) -> Verdict:
    """Judge ``y`` for the pre-norm sum ``s32`` (fp32, unrounded) and its exact ``s64``.

    ``s32`` is ``x`` for rms_norm, ``x + r`` for the fused add, the all-reduced sum
    (+ r) for the all-reduce; the profile references are computed from it, on ``y``'s
    device. ``rounded`` is the sum the ``rounded-sum`` profile normalises (default:
    ``s32`` rounded to y's dtype), ``sum_error`` how far a legal reduction may move
    the sum (all-reduce), ``x`` the input x of a fused add (to name a residual not
    added). ``explain``: name a known mistake when the case fails.
    """
    dev = y.device
    w = None if weight is None else weight.to(dev)
    sums = Sums(s32.to(dev), s64.to(dev), case.eps, None if sum_error is None else sum_error.to(dev))
    scale = _scale64(w, case.weight_bias)
    ideal = sums.s64 * sums.inv64 if scale is None else sums.s64 * sums.inv64 * scale
    v = Verdict()
    y = y.detach()
    problem = None if bool(torch.isfinite(y).all()) else _nonfinite("y", y, ideal)
    # a NaN/Inf element counts as 0 in the normwise error (and as infinitely many ulps)
    err = (y.double() if problem is None else torch.where(torch.isfinite(y), y.double(), 0.0)) - ideal
    at_zero = ideal == 0
    ulps = (err.abs() / ulp_of(ideal, y.dtype)).masked_fill_(at_zero, 0.0)
    if problem is not None:
        ulps.masked_fill_(~torch.isfinite(y), torch.inf)
    if y.numel():
        max_ulp, any_zero, err_norm, ideal_norm = torch.stack(
            [ulps.max(), at_zero.any().double(), err.norm(), ideal.norm()]
        ).tolist()
        v.max_ulp = max_ulp
        v.rel_err = float("inf") if problem and not torch.isfinite(y).any() else err_norm / (ideal_norm or 1.0)
        if any_zero:
            v.max_abs_at_zero = float(torch.where(at_zero, err.abs(), 0.0).max())
    if problem:
        v.problems.append(problem)
        return v
    if y.dtype == torch.float32:
        bound = tol.fp32_ulp(case.hidden)
        v.profile = "fp32"
        if v.max_ulp > bound:
            i = int(ulps.flatten().argmax())
            v.problems.append(
                Problem(
                    Check.NUMERICS,
                    f"y is {v.max_ulp:.1f} ulp from the fp64 ideal (allowed {bound:.1f} for H={case.hidden}); "
                    f"worst y{element_index(i, y.shape)} = {fmt_value(y.flatten()[i].item())} vs ideal "
                    f"{fmt_value(ideal.flatten()[i].item())}",
                )
            )
        at_zero_ulps = (v.max_abs_at_zero or 0.0) / float(ulp_of(ideal.new_zeros(1), y.dtype))
        if at_zero_ulps > bound:  # an exact zero stays 0 in fp32 (0 * rstd * w); stated absolutely
            i = int(torch.where(at_zero, err.abs(), 0.0).flatten().argmax())
            v.problems.append(
                Problem(
                    Check.NUMERICS,
                    f"y{element_index(i, y.shape)} = {fmt_value(y.flatten()[i].item())} where the fp64 ideal is "
                    f"exactly 0 (allowed {bound:.1f} subnormal steps)",
                )
            )
        return v
    rounded = sums.s32.to(y.dtype) if rounded is None else rounded.to(dev)
    return _judge_profiles(case, y, sums, rounded, ideal, w, tol, v, x, explain)


def _judge_profiles(
    case: Case,
    y: torch.Tensor,
    sums: Sums,
    rounded: torch.Tensor,
    ideal: torch.Tensor,
    w: torch.Tensor | None,
    tol: Tolerances,
    v: Verdict,
    x: torch.Tensor | None,
    explain: bool,
) -> Verdict:
    allowed_n = tol.allowed_mismatches(y.numel())
    k = tol.fp32_ulp(case.hidden)
    allowed = [(p, why) for p, why in profiles(case) if why is None]

    def ok(row: _Row) -> bool:
        bound = tol["half_ulp_double_rounding" if row.profile.double_rounding else "half_ulp"]
        return row.hard <= allowed_n and (row.hard == 0 or row.worst <= bound)

    # the profile with the fewest differing elements first: if it conforms it is the one followed,
    # and the band is evaluated for no other (its cost is in the differing elements only)
    refs = [_reference(case, y, p, sums, rounded, w) for p, _ in allowed]
    differ = torch.stack([(y != ref).sum() for ref in refs]).tolist()
    rows = []
    for j in sorted(range(len(allowed)), key=lambda j: differ[j]):
        row = _compare(case, y, allowed[j][0], None, sums, rounded, w, k, refs[j])
        if ok(row):
            v.profile = row.profile.name
            return v
        rows.append(row)
    rows += [
        _compare(case, y, p, why, sums, rounded, w, k, _reference(case, y, p, sums, rounded, w))
        for p, why in profiles(case)
        if why is not None
    ]
    n = y.numel()
    # the known mistake y shows, in words, on the first line (the record's reason); then the table
    named = mistakes.explain(case, y, sums.s32, rounded, w, x, rows, ok) if explain else []
    lines = [
        "y conforms to no allowed profile" + "".join(f"; it {m}" for m in named),
        f"  (an element may differ from a profile's reference only where the exact value is within "
        f"{k:.3g} fp32 ulp of a rounding boundary; {allowed_n} / {n} others allowed)",
    ]
    for row in rows:
        state = f"not allowed: {row.forbidden}" if row.forbidden else "allowed"
        lines.append(
            f"  profile {row.profile.name:<22} {row.differ} / {n} differ ({100 * row.differ / n:.3g}%), "
            f"{row.hard} outside the band ({100 * row.hard / n:.3g}%), max {row.worst} ulp  [{state}]"
        )
    best = min(rows[: len(allowed)], key=lambda r: (r.hard, r.differ))
    i = best.worst_index
    lines.append(
        f"  worst element vs {best.profile.name}: y{element_index(i, y.shape)} = {fmt_value(y.flatten()[i].item())}, "
        f"expected {fmt_value(best.ref.flatten()[i].item())} "
        f"({int(ulp_distance(y.flatten()[i : i + 1], best.ref.flatten()[i : i + 1]))} ulp), "
        f"fp64 ideal {fmt_value(ideal.flatten()[i].item())}"
    )
    v.problems.append(Problem(Check.NUMERICS, "\n".join(lines)))
    return v


def check_residual(
    r_out: torch.Tensor,
    s32: torch.Tensor,
    s64: torch.Tensor,
    x: torch.Tensor | None = None,
    residual: torch.Tensor | None = None,
) -> Problem | None:
    """The returned residual must be the fp32 sum rounded to its dtype, bit for bit."""
    r = r_out.detach()
    s64 = s64.to(r.device)
    problem = _nonfinite("residual_out", r, s64)
    if problem:
        return problem
    expected = s32.to(r.device).to(r.dtype)
    diff = ulp_distance(r, expected)
    n, i = torch.stack([(diff != 0).sum(), diff.flatten().argmax()]).tolist()
    if not n:
        return None
    head = mistakes.explain_residual(r, x, residual)
    return Problem(
        Check.RESIDUAL,
        head + f"residual_out is not x + residual rounded to {r.dtype}: {n} / {diff.numel()} "
        f"elements differ, worst residual_out{element_index(i, r.shape)} = {fmt_value(r.flatten()[i].item())}, "
        f"expected {fmt_value(expected.flatten()[i].item())} ({int(diff.flatten()[i])} ulp), exact sum "
        f"{fmt_value(s64.flatten()[i].item())}",
    )
