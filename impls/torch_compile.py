"""``torch.compile`` of the reference, compiled as engines compile it: what they get from inductor.

The hidden size is static and the token dimension dynamic, as vLLM marks it
(``torch._dynamo.mark_dynamic`` on dim 0 of its inputs): one kernel per hidden size,
dtype and weight, specialised on H (a ``dynamic=True`` compile, which this module used
before, keeps H symbolic and ran at about 550 GB/s on an H200, issue 14).
``maybe_mark_dynamic`` rather than ``mark_dynamic``: dynamo still specialises a size
of 0 or 1, and ``mark_dynamic`` raises on a single-token call; T=1 gets its own graph.
``dynamic=False`` keeps every other size static: with the default (``None``) dynamo
turns H symbolic once a second H recompiles (automatic dynamic shapes, seen in
torch 2.13).

The conformance matrix calls one function with many hidden sizes, dtypes, eps and
weight_bias values, each its own guard set: more than dynamo's recompile limit (8),
past which it falls back to eager without an error. The calls raise the limit (an
engine compiles one model and never meets it) and make hitting it an error.

CPU tensors keep the earlier ``dynamic=True`` compile: H static compiles a C++ kernel
per guard set, and a CPU conformance run (``-n 2``, torch 2.13, 2 cores) took 830 s
that way against 211 s with ``dynamic=True`` (78 s before the limit was raised, most
of it eager). Speed is measured on GPUs; on a CPU the candidate is checked for its
results only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from pytest_normfusion import reference

# Guard sets per compiled function: one per (H, dtypes, weight present, eps, weight_bias,
# row stride, T == 1) the suite uses. A full conformance run needs a few hundred.
RECOMPILE_LIMIT = 4096


@contextlib.contextmanager
def _recompile_limit() -> Iterator[None]:
    config = torch._dynamo.config
    names = [n for n in ("recompile_limit", "accumulated_recompile_limit") if hasattr(config, n)]
    if not names:  # torch < 2.7 spells them cache_size_limit, accumulated_cache_size_limit
        names = [n for n in ("cache_size_limit", "accumulated_cache_size_limit") if hasattr(config, n)]
    patch: dict[str, Any] = dict.fromkeys(names, RECOMPILE_LIMIT)
    for strict in ("fail_on_recompile_limit_hit", "fail_on_cache_limit_hit"):
        if hasattr(config, strict):
            patch[strict] = True
            break
    with config.patch(**patch):
        yield


def compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled with H static and the token dimension of its tensors dynamic (``dynamic=True``
    for CPU tensors)."""
    static_h = torch.compile(fn, dynamic=False)
    symbolic = torch.compile(fn, dynamic=True)

    def call(x: torch.Tensor, *args: Any) -> Any:
        if x.device.type == "cpu":
            with _recompile_limit():
                return symbolic(x, *args)
        for a in (x, *args):
            if isinstance(a, torch.Tensor) and a.dim() >= 2:
                torch._dynamo.maybe_mark_dynamic(a, 0)
        with _recompile_limit():
            return static_h(x, *args)

    return call


class TorchCompile:
    """The reference norms compiled with H static and the token dimension dynamic (on a GPU)."""

    name = "torch-compile"

    def __init__(self) -> None:
        self._rms_norm = compiled(reference.rms_norm)
        self._fused_add_rms_norm = compiled(reference.fused_add_rms_norm)

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        return self._rms_norm(x, weight, eps, weight_bias)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._fused_add_rms_norm(x, residual, weight, eps, weight_bias)
