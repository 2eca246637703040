"""Broken candidates: each breaks the calling contract in one way the suite must report clearly."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import torch

from pytest_normfusion import reference


class Raises:
    """Raises on every call, as a kernel with a bad launch configuration does."""

    name = "raises"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        raise RuntimeError("CUDA error: invalid configuration argument")


class WrongDtype:
    """Returns fp32 whatever x is."""

    name = "wrong-dtype"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias).float()


class WrongShape:
    """Returns the rows flattened into one."""

    name = "wrong-shape"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias).flatten()


class WrongDevice:
    """Returns a tensor on the meta device."""

    name = "wrong-device"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias).to("meta")


class NonTensor:
    """Returns nested Python lists of the right numbers."""

    name = "non-tensor"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias).float().tolist()


class ModifiesWeight:
    """Right numbers, but scales the weight in place afterwards."""

    name = "modifies-weight-after"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        y = reference.rms_norm(x, weight, eps, weight_bias)
        if weight is not None:
            weight.mul_(2.0)
        return y


class ReturnsInput:
    """Returns its input x (a view of what it was handed) without normalising it."""

    name = "returns-input"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return x[:]


class Slow:
    """Takes far longer than any case timeout."""

    name = "slow"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        time.sleep(600)
        return reference.rms_norm(x, weight, eps, weight_bias)


class SwallowsInterrupts:
    """Slow, and catches every Exception around its work, which must not hide the timeout."""

    name = "swallows-interrupts"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        with contextlib.suppress(Exception):  # the pattern under test
            time.sleep(600)
        return reference.rms_norm(x, weight, eps, weight_bias)


class Crashes:
    """Kills its process with SIGSEGV, as a kernel's bad memory access does."""

    name = "crashes"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        os.kill(os.getpid(), signal.SIGSEGV)


class DeclinesButWrong:
    """Declines mixed dtypes in supports(), then returns zeros for them instead of raising."""

    name = "declines-but-wrong"

    def supports(self, case):
        return True if not case.mixed_weight else f"weight must be {case.dtype}"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        if weight is not None and weight.dtype != x.dtype:
            return torch.zeros_like(x)
        return reference.rms_norm(x, weight, eps, weight_bias)


class SupportsRaises:
    """Its supports() raises instead of answering."""

    name = "supports-raises"

    def supports(self, case):
        raise KeyError(case.dtype)

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias)


class SupportsAnswersNone:
    """supports() falls off its end (returns None) for the cases it means to accept."""

    name = "supports-answers-none"

    def supports(self, case):
        if case.mixed_weight:
            return "weight must be x.dtype"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        return reference.rms_norm(x, weight, eps, weight_bias)


class DeclinesEverything:
    """Declines every case (and raises when probed): nothing gets certified."""

    name = "declines-everything"

    def supports(self, case):
        return "not built for this machine"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        raise RuntimeError("not built for this machine")


class DeclinedReturnsWeightDtype:
    """Declines an fp32 weight with half x, and returns y in the weight's dtype for it (HF Llama's
    ``weight * x.to(input_dtype)`` promotes): the caller sees an fp32 tensor at once."""

    name = "declined-returns-weight-dtype"

    def supports(self, case):
        return True if not case.mixed_weight else "the output takes the weight's dtype"

    def rms_norm(self, x, weight, eps, weight_bias=0.0):
        y = reference.rms_norm(x, None, eps)
        return y if weight is None else weight * (y if weight_bias == 0 else y * 1.0) + weight_bias * y


class WrongResidualDtypeAndWrongY:
    """Returns residual_out in fp32 and y scaled by 2: both outputs are wrong, and both are reported."""

    name = "wrong-residual-dtype-and-y"

    def fused_add_rms_norm(self, x, residual, weight, eps, weight_bias=0.0):
        y, r_out = reference.fused_add_rms_norm(x, residual, weight, eps, weight_bias)
        return y * 2, r_out.float()


GALLERY = (
    Raises,
    WrongDtype,
    WrongShape,
    WrongDevice,
    NonTensor,
    ModifiesWeight,
    ReturnsInput,
    Slow,
    SwallowsInterrupts,
    DeclinesButWrong,
    SupportsRaises,
)
