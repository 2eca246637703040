"""The reference pass where engines run it: inductor's post-grad custom pass, in a torch.compile of a test model."""

from __future__ import annotations

import re

import pytest
import torch
from torch._inductor.utils import run_and_get_code

from pytest_normfusion.core.fx import graphcheck, models, ops
from pytest_normfusion.core.tolerance import DEFAULT
from pytest_normfusion.impls.fusion_pass import FusionPass

_CALL = re.compile(r"= torch\.ops\.normfusion\.(\w+)\.default\(")


def _compile_and_run(spec: models.ModelSpec, custom_pass: FusionPass | None):
    model, inputs = models.build(spec, ops.group_name_of(), seed=0)
    torch._dynamo.reset()
    with torch._inductor.config.patch(post_grad_custom_post_pass=custom_pass), torch.no_grad():
        compiled = torch.compile(model, backend="inductor", fullgraph=True)
        out, codes = run_and_get_code(compiled, inputs[-1])
        eager = model(inputs[-1])
    return out, eager, _CALL.findall("\n".join(codes))


@pytest.mark.parametrize(
    ("model_id", "calls"),
    [
        ("gemma-float-bf16", ["allreduce_rms_norm"] * 4),
        ("residual-second-user-bf16", ["allreduce_rms_norm"] * 3 + ["all_reduce", "fused_add_rms_norm"]),
        ("gemma-bf16-fp32-weight", ["all_reduce", "rms_norm"] + ["all_reduce", "fused_add_rms_norm"] * 3),
    ],
)
def test_inductor_runs_the_fused_op(model_id: str, calls: list[str]) -> None:
    spec = models.model_spec(model_id)
    out, eager, called = _compile_and_run(spec, FusionPass())
    assert called == calls
    problems, metrics = graphcheck.check_numerics(spec, eager, out, DEFAULT)
    assert problems == []
    assert metrics["rel_diff"] <= metrics["rel_bound"]


def test_without_the_pass_inductor_keeps_the_unfused_ops() -> None:
    spec = models.model_spec("gemma-float-bf16")
    out, eager, called = _compile_and_run(spec, None)
    assert called == ["all_reduce", "rms_norm"] + ["all_reduce", "fused_add_rms_norm"] * 3
    assert all(torch.equal(a, b) for a, b in zip(out, eager, strict=True))
