"""Check a fusion pass's rewrite of a test model: the graph it left, and the numbers it computes.

Graph checks (DESIGN.md section 4): the fused-node count, norms and all-reduces
gone where fused (an all-reduce with another user may stay for it), nothing of
the op set dangling, and on every fused node its eps, group, ``weight_bias``
(``1.0`` on Gemma sites with the ``+ 1.0`` folded away, never applied twice)
and the fused kernel's dtype rule. Numbers: every output of the rewritten
graph against the original's, on the same inputs, within ``fusion_rel(dtype, sites)``.
"""

from __future__ import annotations

import difflib
import operator
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
import torch.fx

from pytest_normfusion.core.fx import ops
from pytest_normfusion.core.fx.models import ModelSpec
from pytest_normfusion.core.tolerance import Tolerances

OP_NAMES = {
    ops.all_reduce: "all_reduce",
    ops.rms_norm: "rms_norm",
    ops.fused_add_rms_norm: "fused_add_rms_norm",
    ops.allreduce_rms_norm: "allreduce_rms_norm",
}
# nodes a weight passes through unchanged in value: dtype conversions
_CONVERSIONS = {
    torch.ops.prims.convert_element_type.default,
    torch.ops.aten._to_copy.default,
    torch.ops.aten.to.dtype,
}
_ADDS = {torch.ops.aten.add.Tensor, torch.ops.aten.add.Scalar, operator.add}


def _overload(node: Any) -> Any:
    """The op overload a node calls (a packet such as ``torch.ops.normfusion.rms_norm`` means its default)."""
    if not isinstance(node, torch.fx.Node) or node.op != "call_function":
        return None
    target = node.target
    return getattr(target, "default", None) if isinstance(target, torch._ops.OpOverloadPacket) else target


def op_name(node: Any) -> str | None:
    """``"rms_norm"`` etc. for a node calling an op of the set, else None."""
    return OP_NAMES.get(_overload(node))


def op_counts(graph: torch.fx.Graph) -> Counter[str]:
    """How many nodes of each op of the set ``graph`` has."""
    return Counter(name for name in map(op_name, graph.nodes) if name)


def arguments(node: torch.fx.Node) -> dict[str, Any]:
    """The node's arguments by schema name, defaults filled in (tracers drop defaulted ones)."""
    schema = _overload(node)._schema
    bound: dict[str, Any] = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(node.args):
            bound[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            bound[arg.name] = node.kwargs[arg.name]
        else:
            bound[arg.name] = arg.default_value
    return bound


def node_lines(graph: torch.fx.Graph) -> list[str]:
    """One line per computing node and the output, ``name = op(args)``: the graph as a list."""

    def fmt(a: Any) -> str:
        return f"%{a.name}" if isinstance(a, torch.fx.Node) else repr(a)

    lines = []
    for n in graph.nodes:
        if n.op == "placeholder":
            continue
        args = ", ".join([*(fmt(a) for a in n.args), *(f"{k}={fmt(v)}" for k, v in n.kwargs.items())])
        target = op_name(n)
        target = f"normfusion.{target}" if target else getattr(n.target, "__name__", str(n.target))
        lines.append(f"%{n.name} = {target}({args})" if n.op != "output" else f"return {args}")
    return lines


def graph_diff(before: Sequence[str], after: Sequence[str]) -> str:
    """The before/after node lists as one unified diff with the whole graph as context."""
    diff = difflib.unified_diff(list(before), list(after), "before the pass", "after the pass", lineterm="", n=10**6)
    return "\n".join(diff) or "(the pass left the graph unchanged)\n" + "\n".join(before)


def _value(node: Any) -> Any:
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else node


def dtype_of(node: Any) -> torch.dtype | None:
    value = _value(node)
    return value.dtype if isinstance(value, torch.Tensor) else None


def added_constant(weight: Any) -> float:
    """c when the weight is computed as ``w + c`` (through dtype conversions), else 0."""
    node = weight
    while isinstance(node, torch.fx.Node) and node.op == "call_function" and node.target in _CONVERSIONS:
        node = node.args[0]
    if not (isinstance(node, torch.fx.Node) and node.op == "call_function" and node.target in _ADDS):
        return 0.0
    constants = [a for a in node.args if isinstance(a, (int, float))]
    return float(constants[0]) if constants else 0.0


def fill_dtypes(gm: torch.fx.GraphModule, inputs: Sequence[torch.Tensor]) -> None:
    """Give every node a fake ``meta['val']`` (a pass may leave new nodes without one)."""
    from torch.fx.passes.fake_tensor_prop import FakeTensorProp

    FakeTensorProp(gm).propagate(*inputs)


def _fused_node_problems(i: int, node: torch.fx.Node, spec: ModelSpec, group_name: str) -> list[str]:
    args, expect = arguments(node), spec.expect
    where = f"fused node {i} (%{node.name})"
    problems = []
    if i < len(expect.weight_biases) and args["weight_bias"] != expect.weight_biases[i]:
        problems.append(f"{where} has weight_bias={args['weight_bias']:g}, but should be {expect.weight_biases[i]:g}")
    offset = added_constant(args["weight"])
    if offset and args["weight_bias"]:
        problems.append(
            f"{where} applies + {offset:g} twice: its weight %{args['weight'].name} is w + {offset:g} and "
            f"weight_bias={args['weight_bias']:g}; fold the add into weight_bias and pass w itself"
        )
    elif offset:
        problems.append(
            f"{where} gets a weight computed as w + {offset:g}: fold the + {offset:g} into weight_bias "
            "(the fused kernel must see w and weight_bias=1.0)"
        )
    if args["eps"] != expect.eps:
        problems.append(f"{where} has eps={args['eps']:g}, but should be {expect.eps:g}")
    if args["group_name"] != group_name:
        problems.append(f"{where} reduces over group {args['group_name']!r}, but the model's is {group_name!r}")
    x_dtype, w_dtype = dtype_of(args["x"]), dtype_of(args["weight"])
    if args["weight"] is not None and w_dtype != x_dtype:
        problems.append(
            f"{where} breaks the fused kernel's dtype rule: weight dtype {w_dtype}, x dtype {x_dtype} "
            "(input and weight dtypes must match; such sites must stay unfused)"
        )
    x = args["x"]
    if op_name(x) == "all_reduce":
        problems.append(f"{where} reads the output of all_reduce %{x.name}: the sum would be reduced twice")
    return problems


def check_graph(spec: ModelSpec, group_name: str, before: torch.fx.Graph, after: torch.fx.GraphModule) -> list[str]:
    """Every graph check of the (linted, dtype-filled) rewrite of ``spec``'s model; [] when it is right."""
    problems = []
    b, a = op_counts(before), op_counts(after.graph)
    expect = spec.expect
    fused = a["allreduce_rms_norm"] - b["allreduce_rms_norm"]
    if not expect.fused <= fused <= expect.fused + expect.optional:
        problems.append(f"{fused} allreduce_rms_norm nodes made, but should be {expect.allowed} ({spec.why})")
    norms_before = b["rms_norm"] + b["fused_add_rms_norm"]
    norms_after = a["rms_norm"] + a["fused_add_rms_norm"]
    if norms_after != norms_before - fused:
        problems.append(
            f"norm nodes: {norms_before} before, {norms_after} after, but {fused} fused nodes should leave "
            f"{norms_before - fused} (each fused node replaces one norm)"
        )
    kept = max(0, fused - expect.fused)  # fused at an all-reduce with another user, which stays for it
    if not problems and a["all_reduce"] != b["all_reduce"] - fused + kept:
        problems.append(
            f"all_reduce nodes: {b['all_reduce']} before, {a['all_reduce']} after, but should be "
            f"{b['all_reduce'] - fused + kept} (each fused node replaces its all-reduce"
            + (f"; {kept} kept for other users)" if kept else ")")
        )
    for n in after.graph.nodes:
        if op_name(n) and not n.users:
            problems.append(f"%{n.name} = normfusion.{op_name(n)} has no users (left dangling)")
    fused_nodes = [n for n in after.graph.nodes if op_name(n) == "allreduce_rms_norm"]
    for i, node in enumerate(fused_nodes):
        problems += _fused_node_problems(i, node, spec, group_name)
    return problems


def output_names(spec: ModelSpec) -> list[str]:
    """What each model output is, for messages."""
    extra = [f"all_reduce output of site {i} (its second user)" for i, s in enumerate(spec.sites) if s.other_user]
    return ["y (last site)", "residual", *extra]


def check_numerics(
    spec: ModelSpec, original: Sequence[torch.Tensor], rewritten: Sequence[torch.Tensor], tol: Tolerances
) -> tuple[list[str], dict[str, float]]:
    """Rewritten vs original outputs: normwise relative difference within the bound; NaN/Inf never."""
    names = output_names(spec)
    if len(rewritten) != len(original):
        return [f"the rewritten graph returns {len(rewritten)} outputs, the original {len(original)}"], {}
    problems, worst = [], 0.0
    bound = tol.fusion_rel(spec.torch_dtype, len(spec.sites))
    for name, got, want in zip(names, rewritten, original, strict=True):
        if got.dtype != want.dtype or got.shape != want.shape:
            problems.append(f"{name}: {got.dtype}{list(got.shape)}, but should be {want.dtype}{list(want.shape)}")
            continue
        g, w = got.detach().double().cpu(), want.detach().double().cpu()
        if not torch.isfinite(g).all() and torch.isfinite(w).all():
            problems.append(f"{name} has {int((~torch.isfinite(g)).sum())} NaN/Inf elements; the original has none")
            continue
        diff = (g - w).abs()
        rel = float(diff.norm() / w.norm()) if float(w.norm()) else float(diff.norm())
        worst = max(worst, rel)
        if rel > bound:
            idx = [int(i) for i in torch.unravel_index(diff.argmax(), diff.shape)]
            problems.append(
                f"{name} differs from the original graph's: relative difference {rel:.3g} (allowed {bound:.3g}, "
                f"tolerance fusion_rel_per_site for {len(spec.sites)} sites); worst {name.split()[0]}{idx} = "
                f"{g[tuple(idx)].item():.6g}, original {w[tuple(idx)].item():.6g}"
            )
    return problems, {"rel_diff": worst, "rel_bound": bound}
