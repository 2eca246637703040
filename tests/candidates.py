"""Wrong (and legal) candidates the plugin's tests certify; each models a real bug class."""

from __future__ import annotations

import torch

from pytest_normfusion import reference


def _scale(weight: torch.Tensor | None, weight_bias: float) -> torch.Tensor | float:
    return 1.0 if weight is None else weight.float() + weight_bias


class IgnoresWeightBias:
    """Drops weight_bias: Gemma's (1 + w) becomes w."""

    name = "ignores-weight-bias"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, 0.0)

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        return reference.fused_add_rms_norm(x, residual, weight, eps, 0.0)


class VarianceInInputDtype:
    """Squares and averages in x.dtype: fp16 squares overflow, bf16 loses the sum."""

    name = "variance-in-input-dtype"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        var = x.pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var.float() + eps) * _scale(weight, weight_bias)).to(x.dtype)


class ResidualNotReturned:
    """Returns the input residual instead of x + residual."""

    name = "residual-not-returned"

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        y, _ = reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)
        return y, residual


class ModifiesWeight:
    """Folds weight_bias into the weight in place (w += 1) and leaves it there."""

    name = "modifies-weight"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if weight is not None:
            weight.add_(weight_bias).mul_(1.0001)
        return reference.rms_norm(x, weight, eps, 0.0)


class NaNOnMixedDtypes:
    """Returns NaN for an fp32 weight with a half x, declining the case via supports()."""

    name = "nan-on-mixed"

    def supports(self, case):
        return True if not case.mixed_weight else f"weight must be {case.dtype}"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if weight is not None and weight.dtype != x.dtype:
            return torch.full_like(x, float("nan"))
        return reference.rms_norm(x, weight, eps, weight_bias)


class RoundedOnePlusW:
    """Rounds (w + weight_bias) to x.dtype before the multiply (vLLM #29810's bug)."""

    name = "rounded-one-plus-w"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if weight is None:
            return reference.rms_norm(x, weight, eps)
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        return (normed * (weight.to(x.dtype) + weight_bias).float()).to(x.dtype)


class RoundedInverseRms:
    """Rounds 1 / sqrt(mean(x^2) + eps) to x.dtype before the multiply (statistics leave fp32 too early)."""

    name = "rounded-inverse-rms"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        xf = x.float()
        inv = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps).to(x.dtype).float()
        return (xf * inv * _scale(weight, weight_bias)).to(x.dtype)


class IgnoresWeight:
    """Never applies the weight: y is the normalised x."""

    name = "ignores-weight"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, None, eps)


class ResidualNotAdded:
    """Normalises x alone, though it returns the right residual_out."""

    name = "residual-not-added"

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        _, r_out = reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)
        return reference.rms_norm(x, weight, eps, weight_bias), r_out


class InputDtypeMultiply:
    """Legal for same-dtype weights with weight_bias 0 (HF Llama), wrong elsewhere."""

    name = "input-dtype-multiply"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias, multiply="input-dtype")


class RoundedSum:
    """Normalises the sum after rounding it to x.dtype (vLLM's CUDA fused_add): legal."""

    name = "rounded-sum"

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        return reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias, residual_sum="rounded-sum")


class EpsOutsideSqrt:
    """x / (sqrt(mean(x^2)) + eps): right on normal inputs, wrong where eps dominates."""

    name = "eps-outside-sqrt"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        xf = x.float()
        return (xf / (xf.pow(2).mean(-1, keepdim=True).sqrt() + eps) * _scale(weight, weight_bias)).to(x.dtype)


class InPlace:
    """Writes y into x and the sum into residual, returning them: allowed."""

    name = "in-place"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return x.copy_(reference.rms_norm(x, weight, eps, weight_bias))

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        y, r_out = reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)
        return x.copy_(y), residual.copy_(r_out)


class RaisesOnMixed:
    """Declines mixed dtypes and raises a clear error for them: the right behaviour."""

    name = "raises-on-mixed"

    def supports(self, case):
        return not case.mixed_weight

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if weight is not None and weight.dtype != x.dtype:
            raise TypeError(f"weight must be {x.dtype}, got {weight.dtype}")
        return reference.rms_norm(x, weight, eps, weight_bias)


class CachesScaledWeight:
    """Keeps ``(w + weight_bias)`` in fp32 per weight tensor, keyed on the tensor's address and version
    (and holding it, so no other tensor takes that address): stale once the weight is rewritten in place
    through ``.data``, as engines' weight loaders write it."""

    name = "caches-scaled-weight"

    def __init__(self):
        self._scales = {}

    def _scale(self, weight, weight_bias):
        if weight is None:
            return 1.0
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.numel(), weight_bias)
        if key not in self._scales:
            self._scales[key] = (weight, weight.float() + weight_bias)
        return self._scales[key][1]

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        xf = x.float()
        inv = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        return (xf * inv * self._scale(weight, weight_bias)).to(x.dtype)


class ReusesOutput:
    """Right numbers, written into one output buffer per shape and dtype that every call returns, so the
    next call overwrites the y a caller still holds."""

    name = "reuses-output"

    def __init__(self):
        self._buffers = {}

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        key = (tuple(x.shape), x.dtype, x.device)
        out = self._buffers.setdefault(key, torch.empty(x.shape, dtype=x.dtype, device=x.device))
        return out.copy_(reference.rms_norm(x, weight, eps, weight_bias))


class ScratchInLastOutput:
    """Returns a new y each call, but squares x into the previous call's y first, as a workspace pool that
    takes back memory the caller still holds would."""

    name = "scratch-in-last-output"

    def __init__(self):
        self._last = None

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if self._last is not None and self._last.shape == x.shape:
            torch.mul(x, x, out=self._last)
        self._last = reference.rms_norm(x, weight, eps, weight_bias)
        return self._last


def make_reference():
    """A zero-argument factory."""
    return InPlace()


INSTANCE = InPlace()
