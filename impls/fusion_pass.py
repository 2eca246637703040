"""The reference fusion pass: all-reduce + (fused-add) RMSNorm -> ``normfusion::allreduce_rms_norm``.

Built on ``torch._inductor.pattern_matcher``. Patterns, each with and without
the residual add:

- plain: ``all_reduce -> rms_norm(w)`` / ``fused_add_rms_norm(w)`` (w may be None);
- Gemma: the weight is ``w.float() + 1.0`` (vLLM's Gemma) or ``w + 1.0``; the
  ``+ 1.0`` folds into ``weight_bias=1.0`` and the fused op gets ``w`` itself.

Without a residual the pattern returns the all-reduce output too, so its other
users read the fused op's ``residual_out`` (the all-reduced sum). With one, an
all-reduce output that has other users stays unfused (the pattern matcher
refuses a match whose inner nodes are used outside it).

The fused kernel's dtype rule (``extra_check``): the weight it gets must have
x's dtype; FlashInfer 0.7.2's fused kernels return NaN otherwise (DESIGN.md 9).

Group names and eps are literals in the graph, so patterns are registered per
(group name, eps) pair found in the graph being rewritten, and cached.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.fx
from torch._inductor import pattern_matcher as pm

from pytest_normfusion import api

# the example shapes patterns are traced with; on the meta device, so tracing a
# pattern runs no collective
_T, _H = 4, 16


def dtype_rule(match: pm.Match) -> bool:
    """The weight handed to the fused kernel has x's dtype (or there is none)."""
    x, weight = match.kwargs["x"], match.kwargs.get("weight")
    if weight is None:
        return True
    return _dtype(weight) is not None and _dtype(weight) == _dtype(x)


def _dtype(node: object) -> torch.dtype | None:
    """The dtype of a matched node's (fake) value."""
    value = node.meta.get("val") if isinstance(node, torch.fx.Node) else node
    return value.dtype if isinstance(value, torch.Tensor) else None


def _scaled(weight: torch.Tensor | None, scale: str) -> torch.Tensor | None:
    """The weight the unfused graph hands the norm: w, ``w.float() + 1.0`` or ``w + 1.0``."""
    if scale == "gemma-float":
        return weight.float() + 1.0
    if scale == "gemma":
        return weight + 1.0
    return weight


def _patterns(group_name: str, eps: float, scale: str) -> list[tuple[Callable, Callable, list]]:
    """(search, replace, example inputs) for both residual forms of one weight scale."""
    bias = 0.0 if scale == "plain" else 1.0

    def search_plain(x, weight):
        a = api.all_reduce(x, group_name)
        return api.rms_norm(a, _scaled(weight, scale), eps), a

    def replace_plain(x, weight):
        return api.allreduce_rms_norm(x, None, weight, eps, bias, group_name)

    def search_residual(x, residual, weight):
        a = api.all_reduce(x, group_name)
        return api.fused_add_rms_norm(a, residual, _scaled(weight, scale), eps)

    def replace_residual(x, residual, weight):
        return api.allreduce_rms_norm(x, residual, weight, eps, bias, group_name)

    x = torch.empty(_T, _H, dtype=torch.bfloat16, device="meta")
    w = torch.empty(_H, dtype=torch.bfloat16, device="meta")
    return [(search_plain, replace_plain, [x, w]), (search_residual, replace_residual, [x, x.clone(), w])]


def _no_weight_patterns(group_name: str, eps: float) -> list[tuple[Callable, Callable, list]]:
    def search_plain(x):
        a = api.all_reduce(x, group_name)
        return api.rms_norm(a, None, eps), a

    def replace_plain(x):
        return api.allreduce_rms_norm(x, None, None, eps, 0.0, group_name)

    def search_residual(x, residual):
        return api.fused_add_rms_norm(api.all_reduce(x, group_name), residual, None, eps)

    def replace_residual(x, residual):
        return api.allreduce_rms_norm(x, residual, None, eps, 0.0, group_name)

    x = torch.empty(_T, _H, dtype=torch.bfloat16, device="meta")
    return [(search_plain, replace_plain, [x]), (search_residual, replace_residual, [x, x.clone()])]


@functools.lru_cache(maxsize=64)
def patterns_for(group_name: str, eps: float, check: Callable[[pm.Match], bool]) -> pm.PatternMatcherPass:
    """A PatternMatcherPass with every pattern for one (group name, eps) pair, guarded by ``check``."""
    matcher = pm.PatternMatcherPass(pass_name=f"normfusion-reference[{group_name!r}, {eps:g}]")
    # Gemma first: its pattern contains the plain one's nodes plus the + 1.0
    entries = [
        *_patterns(group_name, eps, "gemma-float"),
        *_patterns(group_name, eps, "gemma"),
        *_patterns(group_name, eps, "plain"),
        *_no_weight_patterns(group_name, eps),
    ]
    for search, replace, example in entries:
        pm.register_replacement(search, replace, example, pm.fwd_only, matcher, extra_check=check)
    return matcher


def _literals(graph: torch.fx.Graph) -> tuple[set[str], set[float]]:
    """Group names of the all-reduces and eps of the norms in ``graph``."""
    groups = {n.args[1] for n in graph.find_nodes(op="call_function", target=api.all_reduce)}
    eps = {n.args[2] for n in graph.find_nodes(op="call_function", target=api.rms_norm)}
    eps |= {n.args[3] for n in graph.find_nodes(op="call_function", target=api.fused_add_rms_norm)}
    return groups, eps


class ReferencePass:
    """Rewrites a GraphModule in place; returns the number of fused nodes it made."""

    name = "reference"
    claims = frozenset({"plain", "residual", "gemma"})

    def __init__(self, check: Callable[[pm.Match], bool] = dtype_rule) -> None:
        self.check = check  # the extra_check of every pattern

    def __call__(self, gm: torch.fx.GraphModule) -> int:
        groups, epsilons = _literals(gm.graph)
        count = sum(patterns_for(g, e, self.check).apply(gm) for g in sorted(groups) for e in sorted(epsilons))
        gm.graph.eliminate_dead_code()
        gm.graph.lint()
        gm.recompile()
        return count


reference = ReferencePass()


class InductorReferencePass(torch._inductor.custom_graph_pass.CustomGraphPass):
    """The reference pass as inductor's ``post_grad_custom_post_pass`` (over a Graph)."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        reference(graph.owning_module)

    def uuid(self) -> bytes:
        """Changes when this pass or the op set's schemas change (inductor's cache key)."""
        return hashlib.sha256(Path(__file__).read_bytes() + repr(api.SCHEMAS).encode()).digest()


FusionPass = InductorReferencePass  # the name docs/fusion-passes.md used
