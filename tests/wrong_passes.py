"""Wrong fusion passes the plugin's tests certify; each models a real bug class of fusion passes."""

from __future__ import annotations

import operator

import torch

from pytest_normfusion import api as ops
from pytest_normfusion.impls.fusion_pass import ReferencePass


def _fused_nodes(gm: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target is ops.allreduce_rms_norm]


class DoesNothing:
    """Leaves the graph as it is."""

    name = "does-nothing"

    def __call__(self, gm):
        return 0


def _any_dtypes(match) -> bool:
    return True


class IgnoresDtypes:
    """Fuses without the dtype rule: an fp32 weight reaches the bf16 fused kernel (NaN on FlashInfer 0.7.2)."""

    name = "ignores-dtypes"

    def __call__(self, gm):
        return ReferencePass(check=_any_dtypes)(gm)


class DropsWeightBias:
    """Folds Gemma's + 1.0 away but fuses with weight_bias=0.0: (1 + w) becomes w."""

    name = "drops-weight-bias"

    def __call__(self, gm):
        ReferencePass()(gm)
        for node in _fused_nodes(gm):
            node.update_arg(4, 0.0)
        gm.recompile()


class AppliesOneTwice:
    """Fuses Gemma with weight_bias=1.0 but hands the kernel w + 1.0: (2 + w)."""

    name = "applies-one-twice"

    def __call__(self, gm):
        ReferencePass()(gm)
        for node in _fused_nodes(gm):
            weight = node.args[2]
            if node.args[4] and weight is not None:
                with gm.graph.inserting_before(node):
                    node.update_arg(2, gm.graph.call_function(torch.ops.aten.add.Tensor, (weight, 1.0)))
        gm.recompile()


class StealsTheSecondUser:
    """Fuses an all-reduce that has another user too, and hands that user the fused residual_out
    (the sum plus the residual) instead of the all-reduced sum."""

    name = "steals-the-second-user"

    def __call__(self, gm):
        ReferencePass()(gm)
        graph = gm.graph
        for norm in graph.find_nodes(op="call_function", target=ops.fused_add_rms_norm):
            reduced, residual, weight, eps = norm.args[:4]
            if reduced.target is not ops.all_reduce or len(reduced.users) < 2:
                continue
            x, group_name = reduced.args
            with graph.inserting_before(norm):
                fused = graph.call_function(ops.allreduce_rms_norm, (x, residual, weight, eps, 0.0, group_name))
                y, r_out = (graph.call_function(operator.getitem, (fused, i)) for i in (0, 1))
            for user in list(norm.users):
                user.replace_all_uses_with(y if user.args[1] == 0 else r_out)
                graph.erase_node(user)
            graph.erase_node(norm)
            reduced.replace_all_uses_with(r_out)
            graph.erase_node(reduced)
        gm.recompile()


class Raises:
    """Crashes on every graph."""

    name = "raises"

    def __call__(self, gm):
        raise RuntimeError("pattern table is corrupt")


class ClaimsPlainOnly:
    """The reference pass, claiming only the plain pattern: the other models are skipped."""

    name = "plain-only"
    claims = frozenset({"plain"})

    def __call__(self, gm):
        return ReferencePass()(gm)
