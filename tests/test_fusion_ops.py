"""The normfusion op set: schemas, opcheck, values against the reference, idempotent registration, groups."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest
import torch

from pytest_normfusion import reference
from pytest_normfusion.core import judge
from pytest_normfusion.core.fx import ops
from pytest_normfusion.core.tolerance import DEFAULT


def _inputs(dtype=torch.bfloat16, weight_dtype=torch.bfloat16, strided=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    wide = torch.randn(7, 40 + (3 if strided else 0), generator=gen).to(dtype)
    x = wide[:, :40]
    residual = torch.randn(7, 40, generator=gen).to(dtype)
    weight = None if weight_dtype is None else (1 + 0.1 * torch.randn(40, generator=gen)).to(weight_dtype)
    return x, residual, weight


def test_schemas_are_the_designs_verbatim() -> None:
    for name, schema in ops.SCHEMAS.items():
        registered = getattr(torch.ops.normfusion, name).default._schema
        assert registered == torch._C.parse_schema(f"normfusion::{name}{schema}"), str(registered)


# (x dtype, weight dtype, strided x): same dtypes, Gemma's fp32 weight with bf16 x, no weight, row-strided x
SAMPLES = [
    (torch.bfloat16, torch.bfloat16, False),
    (torch.bfloat16, torch.float32, False),
    (torch.float16, None, False),
    (torch.float32, torch.float32, True),
]


@pytest.mark.parametrize(("dtype", "weight_dtype", "strided"), SAMPLES)
def test_opcheck(dtype, weight_dtype, strided) -> None:
    x, residual, weight = _inputs(dtype, weight_dtype, strided)
    bias = 0.0 if weight is None else 1.0
    calls = [
        (ops.all_reduce, (x, "")),
        (ops.rms_norm, (x, weight, 1e-6, bias)),
        (ops.fused_add_rms_norm, (x, residual, weight, 1e-5, bias)),
        (ops.allreduce_rms_norm, (x, residual, weight, 1e-6, bias, "")),
        (ops.allreduce_rms_norm, (x, None, weight, 1e-5, bias, "")),
    ]
    for op, args in calls:
        results = torch.library.opcheck(op, args)
        assert set(results.values()) == {"SUCCESS"}, (op, results)


@pytest.mark.parametrize(("dtype", "weight_dtype", "strided"), SAMPLES)
def test_values_are_the_references(dtype, weight_dtype, strided) -> None:
    x, residual, weight = _inputs(dtype, weight_dtype, strided, seed=1)
    bias = 0.0 if weight is None else 1.0
    assert torch.equal(ops.rms_norm(x, weight, 1e-6, bias), reference.rms_norm(x, weight, 1e-6, bias))
    want = reference.fused_add_rms_norm(x, residual, weight, 1e-6, bias)
    for got in (
        ops.fused_add_rms_norm(x, residual, weight, 1e-6, bias),
        ops.allreduce_rms_norm(x, residual, weight, 1e-6, bias, ""),
    ):
        assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    y, r_out = ops.allreduce_rms_norm(x, None, weight, 1e-6, bias, "")
    assert torch.equal(y, reference.rms_norm(x, weight, 1e-6, bias)) and torch.equal(r_out, x)
    # and in fp32 the ops stay within the fp32 bound of the fp64 ideal
    ideal = reference.ideal_norm_of_sum(x.double() + residual.double(), weight, 1e-6, bias)
    y32 = ops.fused_add_rms_norm(x.float(), residual.float(), weight, 1e-6, bias)[0]
    assert float(judge.ulps_from_ideal(y32, ideal).max()) <= DEFAULT.fp32_ulp(x.shape[-1])


def test_world_of_one_all_reduce_is_a_copy() -> None:
    x, _, _ = _inputs(torch.float32)
    out = ops.all_reduce(x, "any name")
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    assert ops.group_name_of() == ""


def test_registration_is_idempotent() -> None:
    x, _, weight = _inputs()
    before = ops.rms_norm(x, weight, 1e-6)
    ops.register()
    reloaded = importlib.reload(ops)
    assert torch.equal(reloaded.rms_norm(x, weight, 1e-6), before)
    assert torch.equal(torch.ops.normfusion.rms_norm(x, weight, 1e-6), before)


def test_group_names_resolve_once_torch_distributed_is_initialized(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import torch, torch.distributed as dist
        from pytest_normfusion import ops
        dist.init_process_group("gloo", init_method="file://{tmp_path}/store", rank=0, world_size=1)
        x = torch.randn(3, 8)
        name = ops.group_name_of()
        assert name == dist.group.WORLD.group_name != ""
        assert torch.equal(ops.all_reduce(x, name), x)
        assert set(torch.library.opcheck(ops.all_reduce, (x, name)).values()) == {{"SUCCESS"}}
        try:
            ops.all_reduce(x, "no-such-group")
        except Exception as exc:
            print("unknown group:", type(exc).__name__)
        dist.destroy_process_group()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "unknown group:" in done.stdout
