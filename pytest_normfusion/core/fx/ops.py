"""The ``normfusion`` op set that fusion passes are certified on (DESIGN.md section 4).

Four ops, registered with ``torch.library`` on import (idempotently: a second
import or a reload finds them defined and leaves them alone):

- ``normfusion::all_reduce(x, group_name)``: the sum of ``x`` over the ranks of
  the group, reduced in fp32 and rounded once to ``x.dtype``;
- ``normfusion::rms_norm`` and ``normfusion::fused_add_rms_norm``: the reference
  (profile ``fp32`` / ``fp32-sum``);
- ``normfusion::allreduce_rms_norm``: the fused op, reference rule R6.

Groups are named as ``torch.distributed`` names them (``ProcessGroup.group_name``).
When ``torch.distributed`` is not initialized the calling process is a world of
one: every group name denotes it alone and the all-reduce returns a copy of
``x``. Once it is initialized, an unknown name is an error.

CPU and CUDA kernels call ``pytest_normfusion.reference``; fake kernels (which
also serve the meta device) let ``make_fx`` and ``torch.compile`` trace the ops.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from pytest_normfusion import reference

NAMESPACE = "normfusion"
# name -> schema, verbatim from DESIGN.md section 4
SCHEMAS = {
    "all_reduce": "(Tensor x, str group_name) -> Tensor",
    "rms_norm": "(Tensor x, Tensor? weight, float eps, float weight_bias=0.0) -> Tensor",
    "fused_add_rms_norm": (
        "(Tensor x, Tensor residual, Tensor? weight, float eps, float weight_bias=0.0) -> (Tensor, Tensor)"
    ),
    "allreduce_rms_norm": (
        "(Tensor x, Tensor? residual, Tensor? weight, float eps, float weight_bias, str group_name) -> (Tensor, Tensor)"
    ),
}
DEVICES = ("cpu", "cuda")


def resolve_group(group_name: str) -> dist.ProcessGroup | None:
    """The process group called ``group_name``; None for a world of one (no process group)."""
    if not dist.is_available() or not dist.is_initialized():
        return None
    return dist.distributed_c10d._resolve_process_group(group_name)


def group_name_of(group: dist.ProcessGroup | None = None) -> str:
    """The name graphs carry for ``group`` (default: the world); ``""`` without a process group."""
    if not dist.is_available() or not dist.is_initialized():
        return ""
    return (group or dist.group.WORLD).group_name


def _sum_in_fp32(x: torch.Tensor, group_name: str) -> torch.Tensor:
    """A fresh contiguous fp32 tensor holding the sum of ``x`` over the group."""
    s = x.to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    group = resolve_group(group_name)
    if group is not None:
        dist.all_reduce(s, group=group)
    return s


def _all_reduce(x: torch.Tensor, group_name: str) -> torch.Tensor:
    return _sum_in_fp32(x, group_name).to(x.dtype)


def _rms_norm(x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0) -> torch.Tensor:
    return reference.rms_norm(x, weight, eps, weight_bias).contiguous()


def _fused_add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    y, r_out = reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)
    return y.contiguous(), r_out.contiguous()


def _allreduce_rms_norm(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    group_name: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    s = _sum_in_fp32(x, group_name)
    if residual is not None:
        s = s + residual.float()
    y, r_out = reference.norm_of_sum(s, weight, eps, weight_bias, x.dtype, "fp32", "fp32-sum")
    return y.contiguous(), r_out.contiguous()


def _like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _fake_all_reduce(x: torch.Tensor, group_name: str) -> torch.Tensor:
    return _like(x)


def _fake_rms_norm(x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0) -> torch.Tensor:
    return _like(x)


def _fake_fused_add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    return _like(x), _like(x)


def _fake_allreduce_rms_norm(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    group_name: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    return _like(x), _like(x)


_KERNELS = {
    "all_reduce": (_all_reduce, _fake_all_reduce),
    "rms_norm": (_rms_norm, _fake_rms_norm),
    "fused_add_rms_norm": (_fused_add_rms_norm, _fake_fused_add_rms_norm),
    "allreduce_rms_norm": (_allreduce_rms_norm, _fake_allreduce_rms_norm),
}


def _defined(name: str) -> bool:
    return hasattr(getattr(torch.ops, NAMESPACE), name)


def register() -> None:
    """Define the ops with their kernels; ops already defined (an earlier import) are kept.

    The function-style ``torch.library`` API keeps its libraries alive for the
    process, so a reload of this module cannot unregister them.
    """
    for name, schema in SCHEMAS.items():
        if _defined(name):
            continue
        qualname = f"{NAMESPACE}::{name}"
        kernel, fake = _KERNELS[name]
        torch.library.define(qualname, schema)
        torch.library.impl(qualname, DEVICES, kernel)
        torch.library.register_fake(qualname, fake)


register()

all_reduce = torch.ops.normfusion.all_reduce.default
rms_norm = torch.ops.normfusion.rms_norm.default
fused_add_rms_norm = torch.ops.normfusion.fused_add_rms_norm.default
allreduce_rms_norm = torch.ops.normfusion.allreduce_rms_norm.default
