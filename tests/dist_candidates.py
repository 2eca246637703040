"""All-reduce + RMSNorm candidates the plugin's tests certify: legal ones, wrong ones, and broken ranks."""

from __future__ import annotations

import ctypes
import os
import time

import torch
import torch.distributed as dist

from pytest_normfusion import reference


def _reduce_in_dtype(x: torch.Tensor, group) -> torch.Tensor:
    """all_reduce in x.dtype, as NCCL does for bf16: partial sums rounded to x.dtype."""
    s = x.contiguous().clone()
    dist.all_reduce(s, group=group)
    return s


def _fused_add(s: torch.Tensor, residual, weight, eps, weight_bias):
    """The reference fused add of a reduced sum; without a residual, the sum is r_out."""
    if residual is None:
        return reference.rms_norm(s, weight, eps, weight_bias), s
    return reference.fused_add_rms_norm(s, residual, weight, eps, weight_bias)


class UnfusedReduceInInputDtype:
    """Legal: NCCL-style all_reduce in x.dtype, then the reference fused add (vLLM's unfused path)."""

    name = "unfused-reduce-in-input-dtype"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        return _fused_add(_reduce_in_dtype(x, group), residual, weight, eps, weight_bias)


class UnfusedRoundedSum:
    """Legal: all_reduce in x.dtype, then a fused add that normalises the rounded sum (vLLM's CUDA kernel)."""

    name = "unfused-rounded-sum"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        s = _reduce_in_dtype(x, group)
        if residual is None:
            return reference.rms_norm(s, weight, eps, weight_bias), s
        return reference.fused_add_rms_norm(s, residual, weight, eps, weight_bias, residual_sum="rounded-sum")


class NormBeforeReduce:
    """Normalises each rank's x (+ r) and all-reduces the normalised outputs."""

    name = "norm-before-reduce"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        _, r_out = reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)
        local = x if residual is None else (x.float() + residual.float() / dist.get_world_size(group)).to(x.dtype)
        y = reference.rms_norm(local, weight, eps, weight_bias).float()
        dist.all_reduce(y, group=group)
        return y.to(x.dtype), r_out


class ResidualOnEveryRank:
    """Adds the residual before the all-reduce on every rank: it is counted world-size times."""

    name = "residual-on-every-rank"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        s = x.float() if residual is None else x.float() + residual.float()
        dist.all_reduce(s, group=group)
        return reference.rms_norm(s, weight, eps, weight_bias).to(x.dtype), s.to(x.dtype)


class OnlyRankZeroRight:
    """Rank 0 returns the reduced result; the others their local fused add (a reduce, not an all-reduce)."""

    name = "only-rank-zero-right"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        out = reference.allreduce_rms_norm(x.clone(), residual, weight, eps, weight_bias, group)
        if dist.get_rank(group) == 0:
            return out
        return _fused_add(x, residual, weight, eps, weight_bias)


class ResidualOutNotReduced:
    """y is right, but residual_out is the input residual (or the local x without one)."""

    name = "residual-out-not-reduced"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        y, _ = reference.allreduce_rms_norm(x.clone(), residual, weight, eps, weight_bias, group)
        return y, (x if residual is None else residual)


class ResidualOutInFp32WrongY:
    """residual_out comes back in fp32 and y is scaled by 2 on every rank: both are reported."""

    name = "residual-out-in-fp32-wrong-y"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        y, r_out = reference.allreduce_rms_norm(x.clone(), residual, weight, eps, weight_bias, group)
        return y * 2, r_out.float()


class SelfFirstSum:
    """Each rank gathers the peers' x and sums them in x.dtype starting with its own: every rank
    is within bounds, but their roundings differ, so the ranks' residuals disagree."""

    name = "self-first-sum"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        world, rank = dist.get_world_size(group), dist.get_rank(group)
        parts = [torch.empty_like(x.contiguous()) for _ in range(world)]
        dist.all_gather(parts, x.contiguous(), group=group)
        s = parts[rank].clone()
        for i in range(1, world):
            s = (s.float() + parts[(rank + i) % world].float()).to(x.dtype)
        return _fused_add(s, residual, weight, eps, weight_bias)


class CachesScaledWeight:
    """Keeps ``(w + weight_bias)`` in fp32 per weight tensor, keyed on its address and version (and holding
    it): stale once the weight is rewritten in place through ``.data``."""

    name = "caches-scaled-weight"

    def __init__(self):
        self._scales = {}

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        scale = None
        if weight is not None:
            key = (weight.data_ptr(), weight._version, weight.dtype, weight.numel(), weight_bias)
            if key not in self._scales:
                self._scales[key] = (weight, weight.float() + weight_bias)
            scale = self._scales[key][1]
        return reference.allreduce_rms_norm(x, residual, scale, eps, 0.0, group)


class ReturnsWorkspace:
    """Right numbers, copied into one (y, residual_out) workspace per shape that every call returns, as a
    fused kernel writing into a registered buffer would: the next call overwrites what the caller holds."""

    name = "returns-workspace"

    def __init__(self):
        self._workspaces = {}

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        y, r_out = reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)
        key = (tuple(x.shape), x.dtype, x.device)
        if key not in self._workspaces:
            self._workspaces[key] = (torch.empty_like(y), torch.empty_like(r_out))
        y_buf, r_buf = self._workspaces[key]
        return y_buf.copy_(y), r_buf.copy_(r_out)


class HangsOnRankOne:
    """Rank 1 never returns; the others wait for it in the all-reduce."""

    name = "hangs-on-rank-one"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        if dist.get_rank(group) == 1:
            time.sleep(3600)
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)


class ExitsOnRankOne:
    """Rank 1's process exits without a word (as a CUDA fault or an OOM kill would end it)."""

    name = "exits-on-rank-one"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        if dist.get_rank(group) == 1:
            os._exit(7)
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)


class SegfaultsOnRankOne:
    """Rank 1 reads address 0: a segmentation fault."""

    name = "segfaults-on-rank-one"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        if dist.get_rank(group) == 1:
            ctypes.string_at(0)
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)


class RaisesOnRankOne:
    """Rank 1 raises before the all-reduce; rank 0 is left waiting in it."""

    name = "raises-on-rank-one"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        if dist.get_rank(group) == 1:
            raise RuntimeError("rank 1 ran out of workspace")
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)
