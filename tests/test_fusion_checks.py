"""The fusion checks themselves: the model table, argument binding, the graph and numeric checks, pass loading."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from pytest_normfusion.core.fx import graphcheck, models, tracing
from pytest_normfusion.core.tolerance import DEFAULT
from pytest_normfusion.impls.fusion_pass import reference
from pytest_normfusion.loading import LoadError, load_pass

DOCS = Path(__file__).parents[1] / "docs" / "fusion-passes.md"


def test_model_ids_are_unique_and_documented() -> None:
    ids = [m.id for m in models.MODELS]
    assert len(set(ids)) == len(ids)
    documented = DOCS.read_text()
    assert [i for i in ids if f"| `{i}` |" not in documented] == []


def test_a_model_cannot_start_with_a_residual() -> None:
    with pytest.raises(ValueError, match="the first site has no residual to add"):
        models.ModelSpec(
            "bad", "bf16", "bf16", (models.Site(residual=True),), 1e-6, models.Rewrite(0, (), 1e-6), frozenset(), ""
        )


def _traced(model_id: str) -> tuple[models.ModelSpec, torch.fx.GraphModule, list[torch.Tensor]]:
    spec = models.model_spec(model_id)
    model, inputs = models.build(spec, "", seed=3)
    gm, graph_inputs = tracing.trace("make_fx", model, inputs)
    return spec, gm, graph_inputs


def test_arguments_fill_the_defaults_tracers_drop() -> None:
    _, gm, _ = _traced("gemma-float-bf16")
    norm = next(
        n
        for n in gm.graph.nodes
        if n.op == "call_function" and n.target in graphcheck.OP_NAMES and "rms" in str(n.target)
    )
    assert len(norm.args) == 3  # the traced call drops weight_bias=0.0
    args = graphcheck.arguments(norm)
    assert args["weight_bias"] == 0.0 and args["eps"] == 1e-6
    assert graphcheck.added_constant(args["weight"]) == 1.0  # w.float() + 1.0, through the conversion


def test_the_unrewritten_graph_fails_the_count_and_nothing_else() -> None:
    spec, gm, graph_inputs = _traced("residual-bf16")
    graphcheck.fill_dtypes(gm, graph_inputs)
    assert graphcheck.check_graph(spec, "", copy.deepcopy(gm).graph, gm) == [
        "0 allreduce_rms_norm nodes made, but should be 4 (fused-add chain; the first all-reduce also feeds the next add (served by r_out))"
    ]


def test_the_reference_rewrite_passes_every_check() -> None:
    spec, gm, graph_inputs = _traced("gemma-plus-one-bf16")
    original = copy.deepcopy(gm)
    reference(gm)
    graphcheck.fill_dtypes(gm, graph_inputs)
    assert graphcheck.check_graph(spec, "", original.graph, gm) == []
    problems, metrics = graphcheck.check_numerics(spec, original(*graph_inputs), gm(*graph_inputs), DEFAULT)
    assert problems == [] and 0 < metrics["rel_diff"] <= metrics["rel_bound"]  # the (1 + w) rounding is gone


def test_fused_nodes_calling_the_op_packet_count_too() -> None:
    spec, gm, graph_inputs = _traced("residual-bf16")
    original = copy.deepcopy(gm)
    reference(gm)
    for node in gm.graph.nodes:
        if graphcheck.op_name(node) == "allreduce_rms_norm":
            node.target = torch.ops.normfusion.allreduce_rms_norm  # the packet, as dynamo-level graphs hold it
    gm.recompile()
    graphcheck.fill_dtypes(gm, graph_inputs)
    assert graphcheck.op_counts(gm.graph)["allreduce_rms_norm"] == 4
    assert graphcheck.check_graph(spec, "", original.graph, gm) == []


def test_numeric_check_reports_the_relative_difference_and_the_worst_element() -> None:
    spec = models.model_spec("plain-bf16")
    want = (torch.ones(2, 2, dtype=torch.bfloat16), torch.ones(2, 2, dtype=torch.bfloat16))
    got = (torch.tensor([[1.0, 1.0], [1.0, 3.0]], dtype=torch.bfloat16), want[1].clone())
    problems, metrics = graphcheck.check_numerics(spec, want, got, DEFAULT)
    assert metrics == {"rel_diff": 1.0, "rel_bound": 2.0 * 4 * 2**-8}
    assert problems == [
        "y (last site) differs from the original graph's: relative difference 1 (allowed 0.0312, tolerance "
        "fusion_rel_per_site for 4 sites); worst y[1, 1] = 3, original 1"
    ]
    nan = (torch.full((2, 2), float("nan"), dtype=torch.bfloat16), want[1])
    assert graphcheck.check_numerics(spec, want, nan, DEFAULT)[0] == [
        "y (last site) has 4 NaN/Inf elements; the original has none"
    ]


def test_pass_claims_are_checked_and_name_the_skip_reason(tmp_path, monkeypatch) -> None:
    (tmp_path / "claims_mod.py").write_text(
        "def gemma_only(gm):\n    pass\ngemma_only.claims = {'gemma'}\n"
        "def odd(gm):\n    pass\nodd.claims = {'rotary'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_pass("claims_mod:gemma_only")
    assert loaded.name == "gemma_only" and loaded.claims == frozenset({"gemma"})
    assert loaded.unclaimed(frozenset({"gemma"})) is None
    assert loaded.unclaimed(frozenset({"plain", "residual"})) == (
        "pass gemma_only claims gemma; this model needs plain, residual"
    )
    with pytest.raises(LoadError, match="unknown claims rotary; known: plain, residual, gemma"):
        load_pass("claims_mod:odd")
