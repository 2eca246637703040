"""Wrong fusion passes the plugin's tests certify; each models a real bug class of fusion passes."""

from __future__ import annotations

import torch

from pytest_normfusion import ops
from pytest_normfusion.impls.fusion_pass import ReferencePass


def _fused_nodes(gm: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target is ops.allreduce_rms_norm]


class DoesNothing:
    """Leaves the graph as it is."""

    name = "does-nothing"

    def __call__(self, gm):
        return 0


class IgnoresDtypes:
    """Fuses without the dtype rule: an fp32 weight reaches the bf16 fused kernel (NaN on FlashInfer 0.7.2)."""

    name = "ignores-dtypes"

    def __call__(self, gm):
        return ReferencePass(check=lambda match: True)(gm)


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
