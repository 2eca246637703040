"""The one table of acceptance bounds; an impl may override an entry with a reason.

Half-precision outputs are judged by faithfulness to a profile's reference:
an element may differ only where the profile's exact value is within the
rounding band of a midpoint (docs/acceptance.md); fp32 outputs by a bound on
their distance from the fp64 ideal. Tests carry no numbers: they read them from here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Bound:
    """One acceptance bound and where it comes from."""

    value: float
    reason: str


TOLERANCES: dict[str, Bound] = {
    "mismatch_fraction": Bound(
        0.0,
        "half-precision outputs: elements that differ from the profile reference where the exact value is "
        "outside the rounding band (hard mismatches), as a fraction of the elements. 0: the band holds every "
        "legal difference (docs/acceptance.md); a wrong (1 + w), inverse RMS or profile puts 17-40 % outside",
    ),
    "half_ulp": Bound(
        1, "with a mismatch_fraction override only: a hard mismatch is at most this many ulp from the reference"
    ),
    "half_ulp_double_rounding": Bound(
        2, "as half_ulp for input-dtype and rounded-sum, whose intermediate can flip by 1 ulp itself"
    ),
    "fp32_ulp_base": Bound(
        10.5,
        "fp32 evaluation's fixed roundings, worst case, relative to the value: square, mean as a multiply by a "
        "rounded 1/H (2), + eps, halved by the square root (2 u); an approximate rsqrt to 2 ulp (4 u); x + r, "
        "x * rstd, w + weight_bias, * w (4 u): 10 u, under 10 ulp at the value's binade; + 0.5 ulp for an fp32 "
        "output's own rounding (docs/acceptance.md). Also the rounding band of half-precision outputs",
    ),
    "fp32_ulp_per_sqrt_hidden": Bound(
        1.0,
        "a sum of H squares in any order has a relative error of std <= ~0.33 u sqrt(H) (sequential order, "
        "the worst legal one); the rsqrt halves it; 6 sigma per row gives 1 ulp per sqrt(H) "
        "(docs/acceptance.md). fp32 outputs, and the rounding band of half-precision outputs",
    ),
    "fusion_rel_per_site": Bound(
        2.0,
        "fusion passes: a rewritten graph's outputs vs the original's, normwise relative difference, in "
        "unit roundoffs of the output dtype per norm site. Fusing drops the rounding of the all-reduced sum "
        "to x.dtype (<= 1 ulp = 2 u per changed element) and folding a half-precision w + 1.0 drops the "
        "rounding of (1 + w); later sites carry the difference on at most unamplified. Measured with the "
        "reference pass on the 4-site models, seeds 0-20 at world size 1, 0-5 at 2, 0-3 at 4 "
        "(docs/fusion-passes.md): at most 2.1 u in all (0.53 u per site, bf16 and fp16), 0 in fp32; "
        "the bound leaves 3.8x",
    ),
    "allreduce_roundings_per_rank": Bound(
        1,
        "all-reduce: each rank past the first adds one rounding of a partial sum in the reduction "
        "dtype (a ring rounds (ws-1) partial sums, a tree fewer); bounded by the reduction in "
        "x.dtype, what NCCL does for bf16 (docs/allreduce-tolerance.md)",
    ),
    "allreduce_residual_roundings": Bound(
        1, "all-reduce: adding the residual to the reduced sum is one more rounding (docs/allreduce-tolerance.md)"
    ),
    "reduced_sum_ulp": Bound(
        3,
        "all-reduce reduced in x.dtype: y is within 3 ulp of the norm of the candidate's own "
        "returned residual_out (the fp32 sum it normalised is within half an ulp of it: y moves by "
        "< 2.02 ulp before rounding); measured max 2 (docs/allreduce-tolerance.md)",
    ),
    "reduced_sum_ulp_double_rounding": Bound(
        7,
        "as reduced_sum_ulp with the input-dtype multiply: the rounded normalised x is within 3 ulp, "
        "times w that is < 6 ulp of y, rounded: 7 (docs/allreduce-tolerance.md)",
    ),
}


@dataclasses.dataclass(frozen=True)
class Tolerances:
    """The table with a candidate's overrides applied; ``overrides`` keeps their reasons."""

    bounds: Mapping[str, Bound]
    overrides: Mapping[str, Bound]

    @classmethod
    def for_candidate(cls, overrides: Mapping[str, tuple[float, str]] | None) -> Tolerances:
        """Apply ``{name: (value, reason)}``; unknown names and missing reasons are errors."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(TOLERANCES))
        if unknown:
            raise ValueError(f"unknown tolerance {', '.join(unknown)}; known: {', '.join(TOLERANCES)}")
        given = {}
        for name, (value, reason) in overrides.items():
            if not str(reason).strip():
                raise ValueError(f"tolerance override {name}={value} needs a reason")
            given[name] = Bound(float(value), str(reason))
        return cls({**TOLERANCES, **given}, given)

    def __getitem__(self, name: str) -> float:
        return self.bounds[name].value

    def allowed_mismatches(self, numel: int) -> int:
        """Hard mismatches (outside the rounding band) allowed in a tensor of ``numel`` elements."""
        return math.floor(self["mismatch_fraction"] * numel)

    def fp32_ulp(self, hidden: int) -> float:
        """Largest distance of an fp32 output from the fp64 ideal, in fp32 ulps; also the rounding band
        of half-precision outputs (how far fp32 evaluation may move a value before its final rounding)."""
        return self["fp32_ulp_base"] + self["fp32_ulp_per_sqrt_hidden"] * math.sqrt(hidden)

    def fusion_rel(self, dtype, sites: int) -> float:  # dtype: torch.dtype
        """Largest normwise relative difference of a rewritten graph's output from the original's."""
        import torch

        return self["fusion_rel_per_site"] * sites * torch.finfo(dtype).eps / 2

    def reduction_roundings(self, world_size: int, residual: bool) -> float:
        """Roundings in the reduction dtype between the ranks' x (and r) and the pre-norm sum."""
        extra = self["allreduce_residual_roundings"] if residual else 0.0
        return self["allreduce_roundings_per_rank"] * (world_size - 1) + extra


DEFAULT = Tolerances(TOLERANCES, {})
