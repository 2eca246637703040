"""The transformers candidates: they change none of the classes' math, and ``supports`` says
what each class cannot represent. Without transformers only the import test runs."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.matrix import single_device_cases
from pytest_normfusion.impls import transformers_norms as hf

needs_transformers = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason=hf.MISSING)

F64 = torch.float64


def _normed(x: torch.Tensor, eps: float) -> torch.Tensor:
    x64 = x.to(F64)
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps)


def _llama(x, w, eps):  # weight * normed.to(input_dtype); Llama4's normed.type_as(x) * weight is the same
    return w.to(F64) * _normed(x, eps).to(x.dtype).to(F64), torch.promote_types(w.dtype, x.dtype)


def _gemma(x, w, eps):  # normed_fp32 * (1 + w.float()), then .type_as(x)
    return _normed(x, eps) * (1.0 + w.to(F64)), x.dtype


def _gemma4(x, w, eps):  # normed_fp32 * w.float() (no weight with with_scale=False), then .type_as(x)
    return _normed(x, eps) * (1.0 if w is None else w.to(F64)), x.dtype


def _t5(x, w, eps):  # x * rsqrt(var) promotes to fp32; cast to w.dtype only when w is half; then w * it
    normed = _normed(x, eps)
    half = w.dtype in (torch.float16, torch.bfloat16)
    if half:
        normed = normed.to(w.dtype).to(F64)
    return w.to(F64) * normed, w.dtype if half else torch.promote_types(w.dtype, torch.float32)


def _olmo2(x, w, eps):  # (weight * normed_fp32).to(input_dtype)
    return w.to(F64) * _normed(x, eps), x.dtype


FORMULAS: dict[type, Callable] = {
    hf.LlamaNorm: _llama,
    hf.Qwen3Norm: _llama,
    hf.Llama4Norm: _llama,
    hf.GemmaNorm: _gemma,
    hf.Gemma3Norm: _gemma,
    hf.Gemma4Norm: _gemma4,
    hf.T5Norm: _t5,
    hf.Olmo2Norm: _olmo2,
}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
# 2 ulp of the output dtype: the fp64 formula and the class's fp32 arithmetic may round an
# intermediate (normed.to(x.dtype)) and the result differently at a rounding boundary.
RTOL = {torch.float16: 2 * 2.0**-10, torch.bfloat16: 2 * 2.0**-7, torch.float32: 2 * 2.0**-23}


def test_every_candidate_has_a_formula() -> None:
    assert set(FORMULAS) == set(hf.CANDIDATES)


def test_imports_nothing_of_pytest_normfusion() -> None:
    tree = ast.parse(Path(hf.__file__).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("pytest_normfusion")], imported


def test_without_transformers_it_imports_and_declines_with_the_install_line() -> None:
    script = textwrap.dedent(
        """
        import sys, types
        sys.modules["transformers"] = None  # import transformers now raises ImportError
        from pytest_normfusion.impls import transformers_norms as hf
        case = types.SimpleNamespace(op="rms_norm", dtype="bf16", weight="bf16", weight_bias=0.0,
                                     hidden=8, eps=1e-6, residual=False)
        for cls in hf.CANDIDATES:
            print(cls().supports(case))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [hf.MISSING] * len(hf.CANDIDATES)


def _inputs(gen: torch.Generator, cls: type, dtype: str, weight: str, tiny: bool):
    x = torch.randn(5, 37, generator=gen, dtype=F64) * (1e-3 if tiny else 3.0)
    if weight == "none":
        w = None
    elif cls.weight_bias == 1.0:  # Gemma checkpoints hold w near 0; the class applies 1 + w
        w = 0.3 * torch.randn(37, generator=gen, dtype=F64)
    else:
        w = 1.0 + 0.3 * torch.randn(37, generator=gen, dtype=F64)
    return x.to(DTYPES[dtype]), None if w is None else w.to(DTYPES[weight])


def _accepted(cls: type) -> list[tuple[str, str]]:
    """(x dtype, weight dtype) pairs the class's supports() accepts."""
    pairs = [(d, w) for d in DTYPES for w in ("none", d, "fp32")]
    cases = {(d, w): Case("rms_norm", d, w, 0.0 if w == "none" else cls.weight_bias, 5, 37, 1e-6) for d, w in pairs}
    return [p for p, case in cases.items() if cls().supports(case) is True]


@needs_transformers
@pytest.mark.parametrize("cls", hf.CANDIDATES, ids=lambda c: c.name)
def test_rms_norm_is_the_model_formula(cls: type) -> None:
    """On fresh inputs, the class as wrapped equals its own formula computed in fp64, within 2 ulp,
    in the dtype the formula promotes to (fp32 for Llama's and T5's with an fp32 weight)."""
    gen = torch.Generator().manual_seed(13)
    candidate = cls()
    pairs = _accepted(cls) + [(d, "fp32") for d in ("fp16", "bf16") if cls.mixed_weight is not None]
    assert pairs
    for (dtype, weight), tiny, eps in [(p, t, e) for p in pairs for t in (False, True) for e in (1e-5, 1e-6)]:
        x, w = _inputs(gen, cls, dtype, weight, tiny)
        w_before = None if w is None else w.clone()
        bias = 0.0 if w is None else cls.weight_bias
        y = candidate.rms_norm(x, w, eps, bias)
        expected, out_dtype = FORMULAS[cls](x, w, eps)
        where = f"{cls.name} x={dtype} w={weight} tiny={tiny} eps={eps}"
        assert y.dtype == out_dtype, where
        rtol = max(RTOL[x.dtype], RTOL[out_dtype])  # an fp32 output may carry a rounding to x.dtype
        torch.testing.assert_close(y.to(F64), expected, rtol=rtol, atol=1e-30, msg=f"{where}: rtol {rtol}")
        assert w is None or torch.equal(w, w_before), f"{where}: the weight changed"


@needs_transformers
@pytest.mark.parametrize("cls", [c for c in hf.CANDIDATES if hasattr(c, "fused_add_rms_norm")], ids=lambda c: c.name)
def test_fused_add_is_the_decoder_layer_add_then_the_norm(cls: type) -> None:
    gen = torch.Generator().manual_seed(5)
    x, w = _inputs(gen, cls, "bf16", "bf16", tiny=False)
    residual = torch.randn(x.shape, generator=gen).to(x.dtype)
    y, r_out = cls().fused_add_rms_norm(x, residual, w, 1e-6, cls.weight_bias)
    assert torch.equal(r_out, residual + x)
    assert torch.equal(y, cls().rms_norm(residual + x, w, 1e-6, cls.weight_bias))


def test_only_the_pre_norm_models_offer_the_fused_add() -> None:
    offered = {c.name for c in hf.CANDIDATES if hasattr(c, "fused_add_rms_norm")}
    assert offered == {"hf-llama", "hf-qwen3", "hf-llama4", "hf-gemma", "hf-gemma3", "hf-gemma4"}


@needs_transformers
@pytest.mark.parametrize("cls", hf.CANDIDATES, ids=lambda c: c.name)
def test_supports_answers_true_or_a_reason_for_every_case(cls: type) -> None:
    for case in single_device_cases(("fp16", "bf16", "fp32"), full=False):
        answer = cls().supports(case)
        assert answer is True or (isinstance(answer, str) and answer), (case.id, answer)
    allreduce = Case("allreduce_rms_norm", "bf16", "bf16", 0.0, 1, 8, 1e-6, world_size=2)
    assert "no allreduce_rms_norm" in cls().supports(allreduce)


def _case(**fields) -> Case:
    base = dict(op="rms_norm", dtype="bf16", weight="bf16", weight_bias=0.0, tokens=7, hidden=64, eps=1e-6)
    return Case(**{**base, **fields})


@needs_transformers
@pytest.mark.parametrize(
    ("cls", "fields", "expected"),
    [
        (hf.LlamaNorm, {}, True),
        (hf.LlamaNorm, {"weight_bias": 1.0}, "LlamaRMSNorm has no (1 + w)"),
        (hf.LlamaNorm, {"weight": "none"}, "always has a weight"),
        (hf.LlamaNorm, {"weight": "fp32"}, "returns that dtype (fp32 for an fp32 weight with a half x)"),
        (hf.LlamaNorm, {"dtype": "fp32", "weight": "fp32"}, True),
        (hf.Qwen3Norm, {"op": "fused_add_rms_norm", "residual": True}, True),
        (hf.Llama4Norm, {"weight": "fp32", "dtype": "fp16"}, "Llama4TextRMSNorm computes normed.type_as(x) * weight"),
        (hf.GemmaNorm, {"weight_bias": 1.0, "weight": "fp32"}, True),
        (hf.GemmaNorm, {}, "GemmaRMSNorm always applies (1 + w)"),
        (hf.Gemma3Norm, {"weight": "none"}, "always has a weight"),
        (hf.Gemma4Norm, {"weight": "none"}, True),
        (hf.Gemma4Norm, {"weight": "fp32"}, True),
        (hf.Gemma4Norm, {"weight_bias": 1.0}, "Gemma4RMSNorm has no (1 + w)"),
        (hf.T5Norm, {"dtype": "fp16", "weight": "fp16"}, True),
        (hf.T5Norm, {"weight": "fp32"}, "T5LayerNorm computes"),
        (hf.T5Norm, {"op": "fused_add_rms_norm", "residual": True}, "the model has no fused_add_rms_norm"),
        (hf.Olmo2Norm, {"weight": "fp32"}, True),
        (hf.Olmo2Norm, {"weight_bias": 1.0}, "Olmo2RMSNorm has no (1 + w)"),
    ],
)
def test_supports_declines_what_the_class_cannot_represent(cls: type, fields: dict, expected) -> None:
    answer = cls().supports(_case(**fields))
    if expected is True:
        assert answer is True
    else:
        assert isinstance(answer, str) and expected in answer


@needs_transformers
def test_calls_it_cannot_represent_raise_the_reason() -> None:
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    w = torch.ones(8, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"LlamaRMSNorm has no \(1 \+ w\)"):
        hf.LlamaNorm().rms_norm(x, w, 1e-6, 1.0)
    with pytest.raises(ValueError, match="GemmaRMSNorm always applies"):
        hf.GemmaNorm().rms_norm(x, w, 1e-6, 0.0)
    with pytest.raises(ValueError, match="T5LayerNorm always has a weight"):
        hf.T5Norm().rms_norm(x, None, 1e-6)
