"""Run a fusion pass on one test model and judge the rewrite: in-process, or on every rank of a pool.

Plain data out (``FusionOutcome``), so a rank can send it back.
"""

from __future__ import annotations

import copy
import dataclasses
import traceback
from typing import Any

import torch

from pytest_normfusion import graphcheck, models, ops, tracing
from pytest_normfusion.loading import FusionPassCandidate, load_pass
from pytest_normfusion.tolerance import DEFAULT, Tolerances


@dataclasses.dataclass
class FusionOutcome:
    """What one rewrite came to; ``problems`` empty means it passed."""

    status: str  # passed | failed | error (the pass raised)
    problems: list[str] = dataclasses.field(default_factory=list)
    diff: str = ""  # before/after node lists
    fused: int = 0
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        return "\n".join(self.problems)


def rewrite_and_check(
    fusion_pass: FusionPassCandidate,
    spec: models.ModelSpec,
    tracer: str,
    group_name: str,
    seed: int,
    rank: int = 0,
    device: str | torch.device = "cpu",
    tol: Tolerances = DEFAULT,
) -> FusionOutcome:
    """Trace ``spec``'s model, run the pass on it, check the graph and compare outputs with the original.

    Every rank of a group must call this together: both graphs run their all-reduces.
    """
    model, inputs = models.build(spec, group_name, seed, rank, device)
    gm, graph_inputs = tracing.trace(tracer, model, inputs)
    original = copy.deepcopy(gm)
    before = graphcheck.node_lines(gm.graph)
    try:
        fusion_pass.fn(gm)
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        return FusionOutcome(
            "error",
            [f"pass {fusion_pass.name} raised {what}\n{traceback.format_exc()}"],
            graphcheck.graph_diff(before, before),
        )
    diff = graphcheck.graph_diff(before, graphcheck.node_lines(gm.graph))
    fused = graphcheck.op_counts(gm.graph)["allreduce_rms_norm"]
    try:
        gm.graph.lint()
        gm.recompile()
        graphcheck.fill_dtypes(gm, graph_inputs)  # every node's dtype, new nodes' included
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        return FusionOutcome("failed", [f"the rewritten graph is malformed: {what}"], diff, fused)
    problems = graphcheck.check_graph(spec, group_name, original.graph, gm)
    try:
        with torch.no_grad():
            want, got = original(*graph_inputs), gm(*graph_inputs)
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        return FusionOutcome("failed", [*problems, f"the rewritten graph does not run: {what}"], diff, fused)
    numeric_problems, metrics = graphcheck.check_numerics(spec, want, got, tol)
    problems += numeric_problems
    return FusionOutcome("failed" if problems else "passed", problems, diff, fused, metrics)


_PASSES: dict[str, FusionPassCandidate] = {}  # loaded once per (rank) process


def on_rank(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Pool job (``run_on_ranks``): one model at the pool's world size, traced with make_fx on every rank."""
    spec = payload["pass_spec"]
    if spec not in _PASSES:
        _PASSES[spec] = load_pass(spec)
    outcome = rewrite_and_check(
        _PASSES[spec],
        models.model_spec(payload["model"]),
        "make_fx",
        ops.group_name_of(ctx.group),
        payload["seed"],
        ctx.rank,
        ctx.device,
    )
    return dataclasses.asdict(outcome)


def merge_ranks(results: list[dict[str, Any]]) -> FusionOutcome:
    """One outcome from every rank's: the worst status, each problem with the ranks that saw it."""
    outcomes = [FusionOutcome(**r) for r in results]
    seen: dict[str, list[int]] = {}
    for rank, outcome in enumerate(outcomes):
        for problem in outcome.problems:
            seen.setdefault(problem, []).append(rank)
    problems = [f"rank {','.join(map(str, ranks))}: {problem}" for problem, ranks in seen.items()]
    status = next((s for s in ("error", "failed") if any(o.status == s for o in outcomes)), "passed")
    shown = next((o for o in outcomes if o.problems), outcomes[0])
    metrics = {k: max(o.metrics.get(k, 0.0) for o in outcomes) for k in shown.metrics}
    return FusionOutcome(status, problems, shown.diff, shown.fused, metrics)
