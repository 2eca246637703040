"""Hugging Face transformers' own RMSNorm classes as candidates: third-party reference points.

Each candidate builds the model's norm module (``LlamaRMSNorm(H, eps=eps)`` ...), copies
``weight`` into its weight parameter (as loading a checkpoint does: the module holds the
weight in the weight's dtype), sets its eps attribute, and calls ``forward`` under
``torch.no_grad()``. Nothing of the classes' math is changed; what each computes (read
from transformers 5.24.0's source):

- ``LlamaRMSNorm`` (and ``Qwen3RMSNorm``, the same code, as are Mistral's, Mixtral's,
  Qwen2's, Phi3's, DeepseekV3's and ~130 others'): fp32 statistics,
  ``weight * (x * rsqrt(mean(x^2) + eps)).to(input_dtype)``: the ``input-dtype`` multiply.
- ``GemmaRMSNorm`` (and ``Gemma3RMSNorm``, the same code, as are Gemma2's, Qwen3-Next's,
  Qwen3.5's): all fp32, ``* (1.0 + weight.float())``, ``.type_as(x)``: ``weight_bias=1``.
- ``Gemma4RMSNorm``: all fp32, ``x * pow(mean(x^2) + eps, -0.5) * weight.float()``; with
  ``with_scale=False`` it has no weight (what ``weight=None`` maps to).
- ``T5LayerNorm``: fp32 variance, ``x * rsqrt(...)`` promoted to fp32, cast to the weight's
  dtype when that is fp16/bf16, then ``weight * ...``; no mean subtraction.
- ``Olmo2RMSNorm``: fp32 statistics, ``(weight * normed_fp32).to(input_dtype)``.
- ``Llama4TextRMSNorm``: ``normed_fp32.type_as(x) * weight``: Llama's math, other code.

``supports`` declines only what a class cannot represent: ``weight=None`` (the classes hold
a weight; Gemma4 can drop it), a ``weight_bias`` the class does not apply (Llama has no
``(1 + w)``; Gemma always applies it), and, for the classes whose multiply promotes to the
weight's dtype (Llama, Qwen3, Llama4, T5), a weight in another dtype than x: they return
fp32 for an fp32 weight with a half x. For that last one the call is made as the model
would make it, so the suite's probe shows what the class returns; for the others the
call raises, naming what is missing.

``fused_add_rms_norm`` is offered only where the model's decoder layer does exactly
``hidden_states = residual + hidden_states; residual = hidden_states;
hidden_states = norm(hidden_states)`` (an add in x.dtype, then the norm: the
``rounded-sum`` profile): Llama, Qwen3, Gemma, Gemma3, Gemma4, Llama4. Not T5 (its block
clamps fp16 sums between the add and the next norm) nor Olmo2 (post-norm: its layers
normalise the sublayer output before the add).

transformers is imported inside the methods, so this module imports without it.
Nothing here imports pytest_normfusion: ``case`` is read by attribute only.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, ClassVar

import torch

MISSING = "transformers is not installed: pip install 'pytest-normfusion[transformers]'"

_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def _load(module: str, cls: str) -> Any:
    """``transformers.models.<module>.<cls>``; ImportError with what to install when absent."""
    try:
        found = importlib.import_module(f"transformers.models.{module}")
    except ImportError as exc:
        if importlib.util.find_spec("transformers") is None:
            raise ImportError(MISSING) from exc
        raise ImportError(f"this transformers has no transformers.models.{module} ({exc})") from exc
    try:
        return getattr(found, cls)
    except AttributeError as exc:
        raise ImportError(f"this transformers has no transformers.models.{module}.{cls}") from exc


class _HFNorm:
    """One transformers norm class; a row of ``_TABLE`` says which and what it can represent."""

    name: ClassVar[str]
    module: ClassVar[str]  # under transformers.models
    cls: ClassVar[str]
    eps_attr: ClassVar[str]  # the attribute forward reads eps from
    weight_bias: ClassVar[float]  # what the class adds to its weight itself: 0.0, or 1.0 for (1 + w)
    # Why a weight of another dtype than x is declined, or None when the class returns x.dtype for it.
    mixed_weight: ClassVar[str | None]
    no_weight: ClassVar[dict[str, Any] | None] = None  # constructor kwargs for a weightless module

    def _refusal(self, has_weight: bool, weight_bias: float, weight_dtype: Any, x_dtype: Any) -> str | None:
        """Why the class cannot represent this call, or None."""
        if not has_weight and self.no_weight is None:
            return f"{self.cls} always has a weight (ones at init): weight=None has no counterpart"
        if weight_bias != self.weight_bias:
            if self.weight_bias == 0.0:
                return f"{self.cls} has no (1 + w): weight_bias={weight_bias:g} has no counterpart"
            return f"{self.cls} always applies (1 + w) (the model stores w): weight_bias={weight_bias:g} has no counterpart"
        if has_weight and weight_dtype != x_dtype and self.mixed_weight is not None:
            return self.mixed_weight
        return None

    def supports(self, case: Any) -> bool | str:
        if case.op not in ("rms_norm", "fused_add_rms_norm") or not hasattr(self, case.op):
            return f"{self.cls}: the model has no {case.op}"
        try:
            _load(self.module, self.cls)
        except ImportError as exc:
            return str(exc)
        has_weight = case.weight != "none"
        refusal = self._refusal(has_weight, float(case.weight_bias), _DTYPES.get(case.weight), _DTYPES[case.dtype])
        return refusal or True

    def _norm(self, hidden: int, weight: torch.Tensor | None, eps: float) -> torch.nn.Module:
        """The model's module with this weight and eps, as a loaded checkpoint would hold it."""
        norm_class = _load(self.module, self.cls)
        if weight is None:
            module = norm_class(hidden, eps=eps, **(self.no_weight or {}))
        else:
            module = norm_class(hidden, eps=eps).to(device=weight.device, dtype=weight.dtype)
            with torch.no_grad():
                module.weight.copy_(weight)
        setattr(module, self.eps_attr, eps)
        return module

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        refusal = self._refusal(weight is not None, weight_bias, None, None)
        if refusal is not None:
            raise ValueError(refusal)
        module = self._norm(x.shape[-1], weight, eps)
        with torch.no_grad():
            return module(x)


class _AddThenNorm:
    """The decoder layer's ``hidden_states = residual + hidden_states``, then the next norm."""

    def fused_add_rms_norm(
        self,
        x: torch.Tensor,
        residual: torch.Tensor,
        weight: torch.Tensor | None,
        eps: float,
        weight_bias: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            hidden_states = residual + x
        return self.rms_norm(hidden_states, weight, eps, weight_bias), hidden_states  # type: ignore[attr-defined]


def _candidate(
    attr: str,
    name: str,
    module: str,
    cls: str,
    eps_attr: str,
    weight_bias: float,
    promotes: str | None,
    no_weight: dict[str, Any] | None,
    fused_add: bool,
) -> type:
    """A candidate class for ``transformers.models.<module>.<cls>``; ``promotes`` names the multiply
    that promotes to the weight's dtype, for the classes that return it for a weight of another dtype."""
    mixed = None
    if promotes is not None:
        mixed = (
            f"{cls} computes {promotes}, which promotes to the weight's dtype: with a weight of another dtype "
            "than x it returns that dtype (fp32 for an fp32 weight with a half x), not x.dtype"
        )
    fields = dict(name=name, module=module, cls=cls, eps_attr=eps_attr, weight_bias=weight_bias)
    fields.update(mixed_weight=mixed, no_weight=no_weight, __module__=__name__, __qualname__=attr)
    fields["__doc__"] = f"transformers' {cls}" + (", after the decoder layer's residual add" if fused_add else "")
    return type(attr, (_AddThenNorm, _HFNorm) if fused_add else (_HFNorm,), fields)


_LLAMA_MULTIPLY = "weight * normed.to(input_dtype)"
# fmt: off
_TABLE = (
    # attr, name, module under transformers.models, class, eps attribute, weight_bias it applies,
    # multiply that promotes to the weight's dtype, weightless constructor kwargs, fused add
    # (LlamaRMSNorm's code is also ~130 other classes', Mistral's, Mixtral's, Qwen2's, Phi3's, DeepseekV3's among them)
    ("LlamaNorm", "hf-llama", "llama.modeling_llama", "LlamaRMSNorm", "variance_epsilon", 0.0, _LLAMA_MULTIPLY, None, True),
    ("Qwen3Norm", "hf-qwen3", "qwen3.modeling_qwen3", "Qwen3RMSNorm", "variance_epsilon", 0.0, _LLAMA_MULTIPLY, None, True),
    ("Llama4Norm", "hf-llama4", "llama4.modeling_llama4", "Llama4TextRMSNorm", "eps", 0.0, "normed.type_as(x) * weight", None, True),
    # (GemmaRMSNorm's code is also Gemma2's, Gemma3's, Qwen3-Next's and Qwen3.5's)
    ("GemmaNorm", "hf-gemma", "gemma.modeling_gemma", "GemmaRMSNorm", "eps", 1.0, None, None, True),
    ("Gemma3Norm", "hf-gemma3", "gemma3.modeling_gemma3", "Gemma3RMSNorm", "eps", 1.0, None, None, True),
    ("Gemma4Norm", "hf-gemma4", "gemma4.modeling_gemma4", "Gemma4RMSNorm", "eps", 0.0, None, {"with_scale": False}, True),
    # T5: no fused add (its block clamps fp16 sums between the add and the next norm); Olmo2: post-norm layers
    ("T5Norm", "hf-t5", "t5.modeling_t5", "T5LayerNorm", "variance_epsilon", 0.0,
     "weight * normed (cast to the weight's dtype only when that is fp16/bf16)", None, False),
    ("Olmo2Norm", "hf-olmo2", "olmo2.modeling_olmo2", "Olmo2RMSNorm", "variance_epsilon", 0.0, None, None, False),
)
# fmt: on
CANDIDATES = tuple(_candidate(*row) for row in _TABLE)
LlamaNorm, Qwen3Norm, Llama4Norm, GemmaNorm, Gemma3Norm, Gemma4Norm, T5Norm, Olmo2Norm = CANDIDATES
