"""Shipped candidates again under other names (benchmark peers, not candidates): a perf check of a
kernel against a second preparation of itself, which measures the spread the perf checks' tie
floor (``perf.stats.PREPARATION_SPREAD``) must hold on a GPU::

    pytest -m perf --normfusion-impl=triton --normfusion-perf-peers=twin_peer:Twin

A check that fails here is a false alarm by construction. To measure your own kernel, subclass it
the same way with another ``name``.
"""

from __future__ import annotations

from pytest_normfusion.impls.torch_compile import TorchCompile
from pytest_normfusion.impls.triton import Triton


class Twin(Triton):
    name = "triton-twin"


class CompileTwin(TorchCompile):
    name = "torch-compile-twin"
