"""RMSNorm, fused residual-add RMSNorm and all-reduce RMSNorm: the reference.

The rules (DESIGN.md section 2), each one cited where the code applies it:

R1. Statistics are computed in fp32: ``mean(x^2)`` over the last dimension.
R2. ``eps`` sits inside the square root: ``x / sqrt(mean(x^2) + eps)``.
R3. The scale is ``(w + weight_bias)``; ``weight_bias=1.0`` is Gemma's ``(1 + w)``.
    ``w=None`` means no scale (and then ``weight_bias`` is not used).
R4. fused add: ``s = x + r`` in fp32; ``r_out = s`` rounded to ``x.dtype``; ``y``
    normalises the *unrounded* fp32 ``s`` (profile ``fp32-sum``) or, in the
    ``rounded-sum`` profile, ``r_out``.
R5. Multiply profile ``fp32``: normalised x times ``(w + weight_bias)`` in fp32,
    rounded once to ``x.dtype``; ``(w + weight_bias)`` is never rounded to a half
    type. Profile ``input-dtype``: normalised x rounded to ``x.dtype``, times
    ``w`` in ``x.dtype`` (rounded twice); it conforms only when ``w`` has
    ``x.dtype`` and ``weight_bias == 0``.
R6. all-reduce: ``s = sum over ranks of x (+ r)``, then as the fused add; with
    ``r=None``, ``r_out`` is the all-reduced sum rounded to ``x.dtype``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

MULTIPLY_PROFILES = ("fp32", "input-dtype")
SUM_PROFILES = ("fp32-sum", "rounded-sum")


def _inv_rms(s: torch.Tensor, eps: float) -> torch.Tensor:
    """R1, R2: ``1 / sqrt(mean(s^2) + eps)`` in fp32 (or fp64 for fp64 ``s``)."""
    return torch.rsqrt(s.pow(2).mean(dim=-1, keepdim=True) + eps)


def _normalize(
    s: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    out_dtype: torch.dtype,
    multiply: str,
) -> torch.Tensor:
    """Normalise fp32 ``s`` and scale it by the rule of ``multiply`` (R5)."""
    normed = s * _inv_rms(s, eps)
    if weight is None:
        return normed.to(out_dtype)
    if multiply == "fp32":
        return (normed * (weight.float() + weight_bias)).to(out_dtype)
    if multiply == "input-dtype":
        return normed.to(out_dtype) * (weight.to(out_dtype) + weight_bias)
    raise ValueError(f"unknown multiply profile {multiply!r}; expected one of {MULTIPLY_PROFILES}")


def rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float = 0.0,
    *,
    multiply: str = "fp32",
) -> torch.Tensor:
    """``y = x / sqrt(mean(x^2) + eps) * (w + weight_bias)`` in ``x.dtype`` (R1-R3, R5)."""
    return _normalize(x.float(), weight, eps, weight_bias, x.dtype, multiply)


def fused_add_rms_norm(
    x: torch.Tensor,
    residual: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float = 0.0,
    *,
    multiply: str = "fp32",
    residual_sum: str = "fp32-sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``s = x + r`` in fp32; returns ``(rms_norm(s), s rounded to x.dtype)`` (R4)."""
    s = x.float() + residual.float()
    return norm_of_sum(s, weight, eps, weight_bias, x.dtype, multiply, residual_sum)


def norm_of_sum(
    s: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    dtype: torch.dtype,
    multiply: str,
    residual_sum: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise the fp32 pre-norm sum ``s``; returns ``(y, r_out)`` with ``r_out = s`` rounded (R4)."""
    r_out = s.to(dtype)
    if residual_sum == "rounded-sum":
        s = r_out.float()
    elif residual_sum != "fp32-sum":
        raise ValueError(f"unknown residual-sum profile {residual_sum!r}; expected one of {SUM_PROFILES}")
    return _normalize(s, weight, eps, weight_bias, dtype, multiply), r_out


def allreduce_rms_norm(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float = 0.0,
    group: dist.ProcessGroup | None = None,
    *,
    multiply: str = "fp32",
    residual_sum: str = "fp32-sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """R6: all-reduce ``x`` in fp32 over ``group``, add ``residual``, then as the fused add.

    The reduction runs in fp32 whatever ``x.dtype`` is, so the only roundings are
    the fp32 additions of the all-reduce itself.
    """
    # A fresh packed fp32 copy: x.float() of fp32 x is x itself, and gloo's all_reduce
    # of a row-strided view returned wrong sums in 18 / 469 elements (ws2, 7x67 strided).
    s = x.to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    dist.all_reduce(s, group=group)
    if residual is not None:
        s = s + residual.float()
    return norm_of_sum(s, weight, eps, weight_bias, x.dtype, multiply, residual_sum)


def ideal_norm_of_sum(
    s: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
) -> torch.Tensor:
    """The exact ``y`` (to fp64 precision, unrounded) for the pre-norm sum ``s``.

    ``s`` is ``x``, ``x + r`` or the all-reduced sum ``+ r``, each taken exactly in fp64.
    """
    s = s.double()
    y = s * _inv_rms(s, eps)
    return y if weight is None else y * (weight.double() + weight_bias)
