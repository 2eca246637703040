"""Fusion-pass conformance: every test model, traced, rewritten by the pass, checked (DESIGN.md section 4).

At world size 1 in this process, once per tracer (make_fx and a torch.compile
capture); at each larger world size on every rank of a pool (make_fx). Each
run checks the graph and compares the numbers with the original graph's.
"""

from __future__ import annotations

import fnmatch
import logging
import os

import pytest

from pytest_normfusion import fusion, models, ops, pool, tracing
from pytest_normfusion.plugin import SETTINGS
from pytest_normfusion.session import Settings, default_world_sizes, resolve_device

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


def _models(settings: Settings) -> list[models.ModelSpec]:
    if not settings.case_patterns:
        return list(models.MODELS)
    return [m for m in models.MODELS if any(fnmatch.fnmatchcase(m.id, p) for p in settings.case_patterns)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """pass x model x (each tracer at world size 1, make_fx at each larger world size)."""
    settings = metafunc.config.stash[SETTINGS]
    sizes = settings.world_sizes or default_world_sizes(resolve_device(settings.device))
    runs = [(t, 1) for t in tracing.TRACERS if 1 in sizes] + [("make_fx", n) for n in sizes if n > 1]
    params = [
        pytest.param(p, m, t, n, id=f"{p.name}-{m.id}-{t}-ws{n}")
        for p in settings.passes
        for m in _models(settings)
        for t, n in runs
    ]
    metafunc.parametrize(("nf_pass", "nf_model", "nf_tracer", "nf_world_size"), params)


def _settle(request, settings, fusion_pass, spec, outcome: fusion.FusionOutcome, where: str, world_size: int) -> None:
    """Record the outcome, then pass, or fail with the problems, the graph diff, the seed and a rerun line."""
    request.node.user_properties.append(
        (
            "normfusion_pass",
            {
                "pass": fusion_pass.name,
                "model": spec.id,
                "where": where,
                "status": outcome.status,
                "fused": outcome.fused,
                "expected": spec.expect.allowed,
                "reason": (outcome.message.splitlines() or [""])[0],
                **outcome.metrics,
            },
        )
    )
    if outcome.status == "passed":
        return
    pytest.fail(
        f"[{outcome.status}] model {spec.id} [pass {fusion_pass.name}, {where}]\n"
        f"model: {spec.why}; expected {spec.expect.allowed} fused nodes, weight_bias {spec.expect.weight_biases}, "
        f"eps {spec.expect.eps:g}\n"
        f"{outcome.message}\n"
        f"graph before -> after:\n{outcome.diff}\n"
        f"seed {settings.seed}; rerun: {settings.pass_repro(fusion_pass, spec.id, world_size)}",
        pytrace=False,
    )


def test_rewrite(nf_pass, nf_model, nf_tracer, nf_world_size, normfusion_settings, request) -> None:
    reason = nf_pass.unclaimed(nf_model.patterns) or pool.world_size_unavailable(request.config, nf_world_size)
    if reason:
        pytest.skip(reason)
    where = f"tracer {nf_tracer}, world size {nf_world_size}"
    if nf_world_size == 1:
        outcome = fusion.rewrite_and_check(
            nf_pass,
            nf_model,
            nf_tracer,
            ops.group_name_of(),
            normfusion_settings.seed,
            device=normfusion_settings.resolved_device,
        )
    else:
        payload = {"pass_spec": nf_pass.spec, "model": nf_model.id, "seed": normfusion_settings.seed}
        try:
            outcome = fusion.merge_ranks(pool.run_on_ranks(request.config, nf_world_size, fusion.on_rank, payload))
        except pool.RankFailure as exc:
            outcome = fusion.FusionOutcome("error", [str(exc)])
    _settle(request, normfusion_settings, nf_pass, nf_model, outcome, where, nf_world_size)
