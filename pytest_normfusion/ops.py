"""Kept for the documented import ``pytest_normfusion.ops``: the ``normfusion::`` op set lives in
``core/fx/ops.py`` and is public through ``pytest_normfusion.api``."""

from pytest_normfusion.core.fx.ops import (
    SCHEMAS,
    all_reduce,
    allreduce_rms_norm,
    fused_add_rms_norm,
    group_name_of,
    resolve_group,
    rms_norm,
)

__all__ = [
    "SCHEMAS",
    "all_reduce",
    "allreduce_rms_norm",
    "fused_add_rms_norm",
    "group_name_of",
    "resolve_group",
    "rms_norm",
]
