"""The FlashInfer candidate on a host without FlashInfer or CUDA: it loads, declines with
reasons, and its guards refuse what the kernels would get wrong."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from pytest_normfusion import reference
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls import flashinfer as fi
from pytest_normfusion.loading import load_candidate

needs_no_flashinfer = pytest.mark.skipif(
    importlib.util.find_spec("flashinfer") is not None and torch.cuda.is_available(),
    reason="FlashInfer and CUDA are present: the unavailable path is not reachable",
)


def _case(**fields) -> Case:
    base = dict(op="rms_norm", dtype="bf16", weight="bf16", weight_bias=0.0, tokens=7, hidden=4096, eps=1e-6)
    return Case(**{**base, **fields})


@pytest.fixture
def available(monkeypatch: pytest.MonkeyPatch) -> fi.FlashInfer:
    """The candidate with FlashInfer taken as present, to reach the rules past availability."""
    monkeypatch.setattr(fi, "unavailable", lambda: None)
    return fi.FlashInfer()


@needs_no_flashinfer
def test_loads_by_entry_point_without_flashinfer() -> None:
    candidate = load_candidate("flashinfer")
    assert candidate.name == "flashinfer"
    assert candidate.capabilities()["ops"] == ["rms_norm", "fused_add_rms_norm", "allreduce_rms_norm"]
    reason = candidate.declines(_case())
    assert reason is not None and ("CUDA" in reason or "flashinfer" in reason)


@needs_no_flashinfer
def test_calls_raise_a_clear_error_without_flashinfer() -> None:
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    with pytest.raises(ImportError, match=r"flashinfer-python==0\.7\.2\.post1"):
        fi.FlashInfer().rms_norm(x, None, 1e-6)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dtype": "fp32", "weight": "fp32"}, "fp16 and bf16 only"),
        ({"weight": "fp32"}, "returns NaN"),
        ({"weight": "fp32", "weight_bias": 1.0, "op": "fused_add_rms_norm", "residual": True}, "returns NaN"),
        ({"layout": "strided", "hidden": 4096}, "not a multiple of the 8-element access"),
        ({"layout": "strided", "hidden": 24, "dtype": "fp16", "weight": "fp16"}, "8-element access for H=24"),
        ({"op": "allreduce_rms_norm", "world_size": 1}, "world sizes (2, 4, 8, 16)"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "hidden": 5125}, "H % 8 == 0"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "layout": "strided"}, "contiguous"),
        ({"op": "allreduce_rms_norm", "world_size": 4, "hidden": 24}, "fewer 16-byte accesses than ranks"),
        ({"op": "allreduce_rms_norm", "world_size": 2, "tokens": 32768, "hidden": 4096}, "exceeds the workspace"),
    ],
)
def test_supports_declines_with_the_reason(available: fi.FlashInfer, fields: dict, expected: str) -> None:
    reason = available.supports(_case(**fields))
    assert isinstance(reason, str)
    assert expected in reason


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"weight": "none"},
        {"weight_bias": 1.0, "dtype": "fp16", "weight": "fp16"},
        {"layout": "strided", "hidden": 67},  # gcd(8, 67) = 1: any stride is aligned
        {"layout": "strided", "hidden": 4096, "tokens": 1},  # one row: the stride is never used
        {"op": "fused_add_rms_norm", "residual": True, "hidden": 5125, "layout": "strided"},
        {"op": "allreduce_rms_norm", "world_size": 2, "tokens": 8192, "hidden": 8192},
        {"op": "allreduce_rms_norm", "world_size": 4, "dtype": "fp32", "weight": "fp32", "hidden": 4096},
    ],
)
def test_supports_accepts_what_the_kernels_take(available: fi.FlashInfer, fields: dict) -> None:
    assert available.supports(_case(**fields)) is True


def test_norm_vector_size_follows_the_kernel_rule() -> None:
    assert [fi.norm_vector_size(h, 2) for h in (4096, 5120, 5125, 24, 12, 1)] == [8, 8, 1, 8, 4, 1]
    assert fi.norm_vector_size(4096, 4) == 4


def test_guards_refuse_misaligned_rows_and_mixed_dtypes() -> None:
    wide = torch.randn(4, 4096 + 3, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="misaligned address"):
        fi._check_rows("x", wide[:, :4096])
    fi._check_rows("x", wide[:1, :4096])  # a single row never uses its stride
    fi._check_rows("x", torch.randn(3, 67, dtype=torch.bfloat16)[:, :5])  # H=5: one element per access
    with pytest.raises(TypeError, match="returns NaN"):
        fi._check_dtypes(wide, torch.ones(4099))
    with pytest.raises(TypeError, match="fp16 or bf16"):
        fi._check_dtypes(torch.ones(2, 8), None)


def test_no_weight_becomes_exact_ones_without_bias() -> None:
    x = torch.randn(2, 8, dtype=torch.float16)
    ones, bias = fi._scale(x, None, 0.0)
    assert ones.dtype == torch.float16 and ones.shape == (8,) and bool((ones == 1).all()) and bias == 0.0
    w = torch.randn(8, dtype=torch.float16)
    assert fi._scale(x, w, 1.0) == (w, 1.0)
    with pytest.raises(ValueError, match="weight_bias 0 and 1 only"):
        fi._scale(x, w, 0.5)


class _FakeNorm:
    """Stands in for flashinfer.norm: records which function ran, computes with the reference."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _norm(self, name: str, bias: float):
        def fn(x, weight, eps):
            self.calls.append(name)
            return reference.rms_norm(x, weight, eps, bias)

        return fn

    def _fused(self, name: str, bias: float):
        def fn(x, residual, weight, eps):
            self.calls.append(name)
            y, r_out = reference.fused_add_rms_norm(x, residual, weight, eps, bias)
            x.copy_(y)
            residual.copy_(r_out)

        return fn

    def __getattr__(self, name: str):
        bias = 1.0 if name.startswith("gemma") else 0.0
        if name in ("rmsnorm", "gemma_rmsnorm"):
            return self._norm(name, bias)
        if name in ("fused_add_rmsnorm", "gemma_fused_add_rmsnorm"):
            return self._fused(name, bias)
        raise AttributeError(name)


@pytest.mark.parametrize(
    ("weight_dtype", "bias", "called"),
    [("bf16", 0.0, "rmsnorm"), ("bf16", 1.0, "gemma_rmsnorm"), (None, 0.0, "rmsnorm")],
)
def test_rms_norm_maps_to_flashinfers_function(monkeypatch, weight_dtype, bias, called) -> None:
    fake = _FakeNorm()
    monkeypatch.setattr(fi, "_flashinfer", lambda name: fake)
    x = torch.randn(3, 16, dtype=torch.bfloat16)
    w = None if weight_dtype is None else torch.randn(16, dtype=torch.bfloat16)
    y = fi.FlashInfer().rms_norm(x, w, 1e-6, bias)
    assert fake.calls == [called]
    assert torch.equal(y, reference.rms_norm(x, w, 1e-6, bias))


def test_fused_add_returns_the_in_place_outputs(monkeypatch) -> None:
    fake = _FakeNorm()
    monkeypatch.setattr(fi, "_flashinfer", lambda name: fake)
    x, r = torch.randn(3, 16, dtype=torch.float16), torch.randn(3, 16, dtype=torch.float16)
    w = torch.randn(16, dtype=torch.float16)
    expected = reference.fused_add_rms_norm(x, r, w, 1e-6, 1.0)
    y, r_out = fi.FlashInfer().fused_add_rms_norm(x, r, w, 1e-6, 1.0)
    assert fake.calls == ["gemma_fused_add_rmsnorm"]
    assert y is x and r_out is r  # FlashInfer writes y into x and the sum into the residual
    assert torch.equal(y, expected[0]) and torch.equal(r_out, expected[1])


def test_mixed_weight_refused_by_flashinfer_and_passed_through_by_unchecked(monkeypatch) -> None:
    """Both decline bf16 x with an fp32 weight; only the unchecked one calls the kernel, for the probe."""
    fake = _FakeNorm()
    monkeypatch.setattr(fi, "_flashinfer", lambda name: fake)
    x, w = torch.randn(3, 16, dtype=torch.bfloat16), torch.randn(16, dtype=torch.float32)
    with pytest.raises(TypeError, match=r"float32 weight with torch\.bfloat16 x returns NaN"):
        fi.FlashInfer().rms_norm(x, w, 1e-6)
    assert fake.calls == []
    unchecked = load_candidate("flashinfer-unchecked")
    assert unchecked.name == "flashinfer-unchecked"
    unchecked.method("rms_norm")(x, w, 1e-6)
    assert fake.calls == ["rmsnorm"]
    with pytest.raises(TypeError, match="fp16 or bf16 x"):  # the other guards stay
        unchecked.method("rms_norm")(x.float(), w, 1e-6)


@needs_no_flashinfer
def test_suite_shows_flashinfer_skipped_with_reasons(pytester: pytest.Pytester) -> None:
    case = "rms_norm-bf16-w_bf16-bias0-T7xH5120-eps1e-06-contiguous-normal"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "-k", "test_norm", "--normfusion-impl=flashinfer", f"--normfusion-case={case}"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*declined by supports(): FlashInfer needs a CUDA device*probed: raises ImportError*"])


class _FakeComm:
    """Stands in for flashinfer.comm: records the workspace and fusion calls."""

    class AllReduceFusionPattern:
        kARResidualRMSNorm = 1

    class Workspace:
        world_size = 1
        destroyed = False

        def is_buffer_size_sufficient(self, tp_size, num_tokens, hidden_dim, dtype) -> bool:
            return num_tokens * hidden_dim <= fi.WORKSPACE_TOKENS * fi.WORKSPACE_HIDDEN

        def destroy(self) -> None:
            self.destroyed = True

    def __init__(self) -> None:
        self.created: list[dict] = []
        self.fused: list[dict] = []

    def create_allreduce_fusion_workspace(self, **kwargs):
        self.created.append(kwargs)
        return self.Workspace()

    def allreduce_fusion(self, **kwargs) -> None:
        self.fused.append(kwargs)
        y, r_out = reference.fused_add_rms_norm(
            kwargs["input"], kwargs["residual_in"], kwargs["rms_gamma"], kwargs["rms_eps"], kwargs["weight_bias"]
        )
        kwargs["norm_out"].copy_(y)
        kwargs["residual_out"].copy_(r_out)


@pytest.fixture
def one_rank_group():
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield dist.group.WORLD
    dist.destroy_process_group()


def test_allreduce_uses_one_trtllm_workspace_and_zero_residual(monkeypatch, one_rank_group) -> None:
    fake = _FakeComm()
    monkeypatch.setattr(fi, "_flashinfer", lambda name: fake)
    impl = fi.FlashInfer()
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    y, r_out = impl.allreduce_rms_norm(x, None, None, 1e-6, 0.0, one_rank_group)
    impl.allreduce_rms_norm(x, torch.randn_like(x), torch.randn(64, dtype=torch.bfloat16), 1e-6, 1.0)
    assert len(fake.created) == 1  # made once for the group, reused
    assert fake.created[0]["backend"] == "trtllm" and fake.created[0]["dtype"] == torch.bfloat16
    first, second = fake.fused
    assert first["pattern"] == _FakeComm.AllReduceFusionPattern.kARResidualRMSNorm and first["fp32_acc"]
    assert bool((first["residual_in"] == 0).all()) and bool((first["rms_gamma"] == 1).all())
    assert first["weight_bias"] == 0.0 and second["weight_bias"] == 1.0
    assert torch.equal(r_out, x) and torch.equal(y, reference.rms_norm(x, None, 1e-6))
    with pytest.raises(TypeError, match="returns NaN"):
        impl.allreduce_rms_norm(x, None, torch.ones(64), 1e-6, 0.0, one_rank_group)
    with pytest.raises(ValueError, match="exceeds"):
        impl.allreduce_rms_norm(torch.zeros(8193, 8192, dtype=torch.bfloat16), None, None, 1e-6)
    impl._workspaces.destroy()
    assert not impl._workspaces._made
