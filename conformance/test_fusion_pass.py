"""Fusion-pass conformance: every test model, traced, rewritten by the pass, checked (DESIGN.md section 4).

At world size 1 in this process, once per tracer (make_fx and a torch.compile
capture); at each larger world size on every rank of a pool (make_fx). Each
run checks the graph and compares the numbers with the original graph's.
"""

from __future__ import annotations

import logging
import os

import pytest

from pytest_normfusion.core.fx import models, ops, rewrite, tracing
from pytest_normfusion.core.outcome import Check, Problem
from pytest_normfusion.core.status import Status
from pytest_normfusion.harness import NormfusionSession
from pytest_normfusion.ranks.rank import RankFailure

# importing torch._inductor's pattern matcher imports torch/utils/mkldnn.py, whose
# torch.jit.script_method warns on every import path (torch 2.13): not the pass's doing
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _quiet_torch_trace():
    """torch's structured-trace logger records DEBUG lines that pytest captures and prints under
    every failure, burying the graph diff; left alone when TORCH_TRACE asks for the trace."""
    log = logging.getLogger("torch.__trace")
    level = log.level
    if "TORCH_TRACE" not in os.environ:
        log.setLevel(logging.INFO)
    yield
    log.setLevel(level)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """pass x model x (each tracer at world size 1, make_fx at each larger world size)."""
    session = NormfusionSession.of(metafunc.config)
    settings = session.settings
    sizes = settings.world_sizes
    runs = [(t, 1) for t in tracing.TRACERS if 1 in sizes] + [("make_fx", n) for n in sizes if n > 1]
    params = [
        pytest.param(p, m, t, n, id=f"{p.name}-{m.id}-{t}-ws{n}")
        for p in session.passes
        for m in models.MODELS
        if settings.selects(m.id)
        for t, n in runs
    ]
    metafunc.parametrize(("nf_pass", "nf_model", "nf_tracer", "nf_world_size"), params)


def test_rewrite(nf_pass, nf_model, nf_tracer, nf_world_size, normfusion: NormfusionSession, request) -> None:
    settings = normfusion.settings
    reason = nf_pass.unclaimed(nf_model.patterns) or settings.world_size_unavailable(nf_world_size)
    if reason:
        pytest.skip(reason)
    if nf_world_size == 1:
        outcome = rewrite.rewrite_and_check(
            nf_pass, nf_model, nf_tracer, ops.group_name_of(), settings.seed, device=settings.device
        )
    else:
        payload = {"pass_spec": nf_pass.spec, "model": nf_model.id, "seed": settings.seed}
        try:
            outcome = rewrite.merge_ranks(normfusion.ranks.run(nf_world_size, rewrite.on_rank, payload))
        except RankFailure as exc:
            outcome = rewrite.FusionOutcome(Status.ERROR, [Problem(Check.RANKS, str(exc))])
    normfusion.settle_pass(request.node, nf_pass, nf_model, nf_tracer, nf_world_size, outcome)
