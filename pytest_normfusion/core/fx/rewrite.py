"""Run a fusion pass on one test model and judge the rewrite: in-process, or on every rank of a pool.

Plain data out (``FusionOutcome``), so a rank can send it back.
"""

from __future__ import annotations

import copy
import dataclasses
import traceback
from typing import Any

import torch

from pytest_normfusion import loading
from pytest_normfusion.core.fx import graphcheck, models, ops, tracing
from pytest_normfusion.core.outcome import Check, Problem
from pytest_normfusion.core.status import Status, worst
from pytest_normfusion.core.tolerance import DEFAULT, Tolerances
from pytest_normfusion.loading import FusionPassCandidate


@dataclasses.dataclass
class FusionOutcome:
    """What one rewrite came to; no problems means it passed."""

    status: Status  # passed | failed | error (the pass raised)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    diff: str = ""  # before/after node lists
    fused: int = 0
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        return "\n".join(p.text for p in self.problems)

    @property
    def failed_checks(self) -> list[str]:
        return sorted({p.check.value for p in self.problems})


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]


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
        text = f"pass {fusion_pass.name} raised {_first_line(exc)}\n{traceback.format_exc()}"
        return FusionOutcome(Status.ERROR, [Problem(Check.RAISED, text)], graphcheck.graph_diff(before, before))
    diff = graphcheck.graph_diff(before, graphcheck.node_lines(gm.graph))
    fused = graphcheck.op_counts(gm.graph)["allreduce_rms_norm"]
    try:
        gm.graph.lint()
        gm.recompile()
        graphcheck.fill_dtypes(gm, graph_inputs)  # every node's dtype, new nodes' included
    except Exception as exc:
        problem = Problem(Check.GRAPH, f"the rewritten graph is malformed: {_first_line(exc)}")
        return FusionOutcome(Status.FAILED, [problem], diff, fused)
    problems = [Problem(Check.GRAPH, p) for p in graphcheck.check_graph(spec, group_name, original.graph, gm)]
    try:
        with torch.no_grad():
            want, got = original(*graph_inputs), gm(*graph_inputs)
    except Exception as exc:
        problems.append(Problem(Check.GRAPH, f"the rewritten graph does not run: {_first_line(exc)}"))
        return FusionOutcome(Status.FAILED, problems, diff, fused)
    numeric_problems, metrics = graphcheck.check_numerics(spec, want, got, tol)
    problems += [Problem(Check.FUSION_NUMERICS, p) for p in numeric_problems]
    return FusionOutcome(Status.FAILED if problems else Status.PASSED, problems, diff, fused, metrics)


def on_rank(ctx: Any, payload: dict[str, Any]) -> FusionOutcome:
    """Rank job: one model at the pool's world size, traced with make_fx on every rank."""
    return rewrite_and_check(
        loading.cached_pass(payload["pass_spec"]),
        models.model_spec(payload["model"]),
        "make_fx",
        ops.group_name_of(ctx.group),
        payload["seed"],
        ctx.rank,
        ctx.device,
    )


def merge_ranks(outcomes: list[FusionOutcome]) -> FusionOutcome:
    """One outcome from every rank's: the worst status, each problem with the ranks that saw it."""
    seen: dict[Problem, list[int]] = {}
    for rank, outcome in enumerate(outcomes):
        for problem in outcome.problems:
            seen.setdefault(problem, []).append(rank)
    problems = [Problem(p.check, f"rank {','.join(map(str, ranks))}: {p.text}") for p, ranks in seen.items()]
    status = worst(o.status for o in outcomes)
    shown = next((o for o in outcomes if o.problems), outcomes[0])
    metrics = {k: max(o.metrics.get(k, 0.0) for o in outcomes) for k in shown.metrics}
    return FusionOutcome(status, problems, shown.diff, shown.fused, metrics)
