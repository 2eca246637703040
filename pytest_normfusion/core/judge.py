"""Judge a candidate's outputs: profiles, ulp distances, the worst element, the message.

Half-precision outputs conform to a profile when at most ``mismatch_fraction``
of their elements differ from that profile's reference, none by more than
``half_ulp`` (``half_ulp_double_rounding`` for the double-rounding profiles).
fp32 outputs must stay within ``fp32_ulp(H)`` of the fp64 ideal. NaN or Inf
where the ideal is finite always fails.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Check, Problem
from pytest_normfusion.core.tolerance import Tolerances
from pytest_normfusion.reference import MULTIPLY_PROFILES, SUM_PROFILES, ideal_norm_of_sum, norm_of_sum

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


def ulps_from_ideal(got: torch.Tensor, ideal: torch.Tensor) -> torch.Tensor:
    """``|got - ideal|`` in ulps of ``got.dtype`` at the ideal's magnitude (fp64 result)."""
    _, exponent = torch.frexp(ideal)  # ideal = m * 2**exponent, 0.5 <= |m| < 1
    exponent = torch.where(ideal == 0, _MIN_EXPONENT[got.dtype], exponent - 1).clamp(min=_MIN_EXPONENT[got.dtype])
    ulp = torch.ldexp(torch.ones_like(ideal), exponent - _MANTISSA_BITS[got.dtype])
    return (got.double() - ideal).abs() / ulp


def relative_error(got: torch.Tensor, ideal: torch.Tensor) -> float:
    """Normwise ``||got - ideal|| / ||ideal||``."""
    denom = ideal.norm().item()
    return (got.double() - ideal).norm().item() / denom if denom else float((got.double() - ideal).norm())


@dataclasses.dataclass
class Verdict:
    """What the judge found; ``problems`` empty means the case passed."""

    problems: list[Problem] = dataclasses.field(default_factory=list)
    profile: str | None = None
    max_ulp: float = 0.0  # vs the fp64 ideal
    rel_err: float = 0.0  # vs the fp64 ideal, normwise

    @property
    def passed(self) -> bool:
        return not self.problems

    def metrics(self) -> dict[str, Any]:
        return {"profile": self.profile, "max_ulp": round(self.max_ulp, 3), "rel_err": float(f"{self.rel_err:.4g}")}


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
    if not bad.any():
        return None
    i = int(bad.flatten().nonzero()[0])
    return Problem(
        Check.NONFINITE,
        f"{name} has {int(bad.sum())} / {bad.numel()} NaN/Inf elements where the fp64 ideal is finite; "
        f"first {name}{element_index(i, got.shape)} = {got.flatten()[i].item()} (ideal {fmt_value(ideal.flatten()[i].item())})",
    )


def judge(
    case: Case,
    y: torch.Tensor,
    s32: torch.Tensor,
    s64: torch.Tensor,
    weight: torch.Tensor | None,
    tol: Tolerances,
) -> Verdict:
    """Judge ``y`` for the pre-norm sum ``s32`` (fp32, unrounded) and its exact ``s64``.

    ``s32`` is ``x`` for rms_norm, ``x + r`` for the fused add, the all-reduced sum
    (+ r) for the all-reduce; the profile references are computed from it.
    """
    ideal = ideal_norm_of_sum(s64, None if weight is None else weight.cpu(), case.eps, case.weight_bias)
    v = Verdict()
    y_cpu = y.detach().cpu()
    problem = _nonfinite("y", y_cpu, ideal)
    finite = torch.isfinite(y_cpu)
    ulps = torch.where(finite, ulps_from_ideal(y_cpu, ideal), torch.inf)
    v.max_ulp = float(ulps.max()) if ulps.numel() else 0.0
    v.rel_err = relative_error(torch.where(finite, y_cpu, 0), ideal) if finite.any() else float("inf")
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
                    f"worst y{element_index(i, y.shape)} = {fmt_value(y_cpu.flatten()[i].item())} vs ideal "
                    f"{fmt_value(ideal.flatten()[i].item())}",
                )
            )
        return v
    return _judge_profiles(case, y_cpu, s32.cpu(), ideal, weight, tol, v)


def _judge_profiles(
    case: Case,
    y: torch.Tensor,
    s32: torch.Tensor,
    ideal: torch.Tensor,
    weight: torch.Tensor | None,
    tol: Tolerances,
    v: Verdict,
) -> Verdict:
    allowed_n = tol.allowed_mismatches(y.numel())
    w = None if weight is None else weight.cpu()
    rows = []
    for profile, forbidden in profiles(case):
        ref, _ = norm_of_sum(
            s32, w, case.eps, case.weight_bias, y.dtype, profile.multiply, profile.residual_sum or "fp32-sum"
        )
        diff = ulp_distance(y, ref)
        n, worst = int((diff != 0).sum()), int(diff.max())
        max_ulp = tol["half_ulp_double_rounding" if profile.double_rounding else "half_ulp"]
        rows.append((profile, forbidden, n, worst, max_ulp, ref, diff))
    ok = [r for r in rows if r[1] is None and r[2] <= allowed_n and r[3] <= r[4]]
    if ok:
        v.profile = min(ok, key=lambda r: r[2])[0].name
        return v
    lines = [f"y conforms to no allowed profile (allowed: {allowed_n} / {y.numel()} elements may differ)"]
    for profile, forbidden, n, worst, max_ulp, _, _ in rows:
        state = f"not allowed: {forbidden}" if forbidden else f"allowed, within {max_ulp:g} ulp"
        lines.append(
            f"  profile {profile.name:<22} {n} / {y.numel()} differ ({100 * n / y.numel():.3g}%), max {worst} ulp  [{state}]"
        )
    profile, _, _, _, _, ref, diff = min((r for r in rows if r[1] is None), key=lambda r: (r[2], r[3]))
    i = int(diff.flatten().argmax())
    lines.append(
        f"  worst element vs {profile.name}: y{element_index(i, y.shape)} = {fmt_value(y.flatten()[i].item())}, "
        f"expected {fmt_value(ref.flatten()[i].item())} ({int(diff.flatten()[i])} ulp), "
        f"fp64 ideal {fmt_value(ideal.flatten()[i].item())}"
    )
    v.problems.append(Problem(Check.NUMERICS, "\n".join(lines)))
    return v


def check_residual(r_out: torch.Tensor, s32: torch.Tensor, s64: torch.Tensor) -> Problem | None:
    """The returned residual must be the fp32 sum rounded to its dtype, bit for bit."""
    r_cpu = r_out.detach().cpu()
    problem = _nonfinite("residual_out", r_cpu, s64)
    if problem:
        return problem
    expected = s32.cpu().to(r_cpu.dtype)
    diff = ulp_distance(r_cpu, expected)
    if not diff.any():
        return None
    i = int(diff.flatten().argmax())
    return Problem(
        Check.RESIDUAL,
        f"residual_out is not x + residual rounded to {r_cpu.dtype}: {int((diff != 0).sum())} / {diff.numel()} "
        f"elements differ, worst residual_out{element_index(i, r_cpu.shape)} = {fmt_value(r_cpu.flatten()[i].item())}, "
        f"expected {fmt_value(expected.flatten()[i].item())} ({int(diff.flatten()[i])} ulp), exact sum "
        f"{fmt_value(s64.flatten()[i].item())}",
    )
