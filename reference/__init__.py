"""The semantics every candidate is held to, as plain PyTorch (DESIGN.md section 2)."""

from pytest_normfusion.reference.norms import (
    MULTIPLY_PROFILES,
    SUM_PROFILES,
    allreduce_rms_norm,
    fused_add_rms_norm,
    ideal_norm_of_sum,
    norm_of_sum,
    rms_norm,
)

__all__ = [
    "MULTIPLY_PROFILES",
    "SUM_PROFILES",
    "allreduce_rms_norm",
    "fused_add_rms_norm",
    "ideal_norm_of_sum",
    "norm_of_sum",
    "rms_norm",
]
