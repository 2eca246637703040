"""Small test models built from the normfusion ops, each carrying what a correct pass does to it.

A model is a chain of norm sites, like the layers of a tensor-parallel
transformer: a branch output ``h`` (different on every rank) is all-reduced,
normalised (the first site without a residual, later ones adding it), and the
next branch is ``y @ proj`` with a per-rank ``proj`` (a row-parallel shard).
The table ``MODELS`` lists every model with its expectation as data.
"""

from __future__ import annotations

import dataclasses

import torch

from pytest_normfusion.core.case import TORCH_DTYPE_NAMES
from pytest_normfusion.core.fx import PATTERNS, ops
from pytest_normfusion.core.inputs import generator, weight_values

SCALES = ("plain", "none", "gemma-float", "gemma")
TOKENS, HIDDEN = 5, 64


@dataclasses.dataclass(frozen=True)
class Site:
    """One norm site."""

    residual: bool = False  # fused_add_rms_norm with the running residual, else rms_norm
    # how the weight reaches the norm: "plain" w, "none", "gemma-float" w.float() + 1.0 (vLLM's
    # Gemma), "gemma" w + 1.0 in the weight's own dtype
    scale: str = "plain"
    all_reduce: bool = True  # the norm reads a normfusion::all_reduce output, else the local h
    other_user: bool = False  # the all-reduce output is also a model output (a second user)


@dataclasses.dataclass(frozen=True)
class Rewrite:
    """What a correct pass leaves: fused nodes, their weight_bias in graph order, their eps."""

    fused: int  # fused nodes every correct pass produces
    weight_biases: tuple[float, ...]  # per fused node in graph order, optional ones last
    eps: float
    # further fused nodes a pass may produce: at an all-reduce with a second user it may
    # fuse only if it keeps that all-reduce for the other user
    optional: int = 0

    @property
    def allowed(self) -> str:
        """The fused-node count as text: ``4``, or ``3..4`` with optional nodes."""
        return f"{self.fused}" if not self.optional else f"{self.fused}..{self.fused + self.optional}"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A test model: its id, dtypes, sites, and the expectation."""

    id: str
    dtype: str  # x, residual and output dtype
    weight: str  # weight storage dtype
    sites: tuple[Site, ...]
    eps: float
    expect: Rewrite
    patterns: frozenset[str]  # the fusion patterns it exercises (a pass's claims must cover them)
    why: str  # what the model is there to catch

    def __post_init__(self) -> None:
        if self.sites[0].residual:
            raise ValueError(f"model {self.id}: the first site has no residual to add")
        if not self.patterns <= set(PATTERNS):
            raise ValueError(f"model {self.id}: unknown patterns {sorted(self.patterns - set(PATTERNS))}")
        if len(self.expect.weight_biases) != self.expect.fused + self.expect.optional:
            raise ValueError(f"model {self.id}: one weight_bias per possibly fused node")
        if any(s.scale not in SCALES for s in self.sites):
            raise ValueError(f"model {self.id}: scale must be one of {SCALES}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, TORCH_DTYPE_NAMES[self.dtype])

    @property
    def weight_torch_dtype(self) -> torch.dtype:
        return getattr(torch, TORCH_DTYPE_NAMES[self.weight])


def _chain(n: int, **first_and_rest: object) -> tuple[Site, ...]:
    """``n`` sites: the first without a residual, the rest with, all sharing ``first_and_rest``."""
    return (Site(residual=False, **first_and_rest), *(Site(residual=True, **first_and_rest) for _ in range(n - 1)))


def _plain(n: int, **kw: object) -> tuple[Site, ...]:
    return tuple(Site(residual=False, **kw) for _ in range(n))


def _expect(fused: int, bias: float, eps: float, optional: int = 0) -> Rewrite:
    return Rewrite(fused, (bias,) * (fused + optional), eps, optional)


_P, _R, _G = frozenset({"plain"}), frozenset({"plain", "residual"}), frozenset({"gemma"})

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("plain-bf16", "bf16", "bf16", _plain(4), 1e-6, _expect(4, 0.0, 1e-6), _P,
              "all-reduce + rms_norm at every site"),
    ModelSpec("plain-fp16-eps1e-5", "fp16", "fp16", _plain(4), 1e-5, _expect(4, 0.0, 1e-5), _P,
              "the other eps, fp16"),
    ModelSpec("residual-bf16", "bf16", "bf16", _chain(4), 1e-6, _expect(4, 0.0, 1e-6), _R,
              "fused-add chain; the first all-reduce also feeds the next add (served by r_out)"),
    ModelSpec("residual-fp32-eps1e-5", "fp32", "fp32", _chain(4), 1e-5, _expect(4, 0.0, 1e-5), _R,
              "fused-add chain in fp32"),
    ModelSpec("residual-noweight-fp16", "fp16", "fp16", _chain(4, scale="none"), 1e-5,
              _expect(4, 0.0, 1e-5), _R, "weight None"),
    ModelSpec("gemma-float-bf16", "bf16", "bf16", _chain(4, scale="gemma-float"), 1e-6,
              _expect(4, 1.0, 1e-6), _G, "vLLM's Gemma: w.float() + 1.0 folds into weight_bias=1.0"),
    ModelSpec("gemma-plus-one-bf16", "bf16", "bf16", _chain(4, scale="gemma"), 1e-6,
              _expect(4, 1.0, 1e-6), _G, "w + 1.0 in bf16 folds into weight_bias=1.0 (one rounding fewer)"),
    ModelSpec("gemma-plus-one-fp32-eps1e-5", "fp32", "fp32", _chain(4, scale="gemma"), 1e-5,
              _expect(4, 1.0, 1e-5), _G, "w + 1.0 in fp32"),
    ModelSpec("gemma-bf16-fp32-weight", "bf16", "fp32", _chain(4, scale="gemma-float"), 1e-6,
              _expect(0, 1.0, 1e-6), _G, "fp32 weight, bf16 x: the fused kernel's dtype rule forbids fusion"),
    ModelSpec("residual-bf16-fp32-weight", "bf16", "fp32", _chain(4), 1e-6, _expect(0, 0.0, 1e-6), _R,
              "fp32 weight, bf16 x, plain scale: no fusion"),
    ModelSpec("residual-second-user-bf16", "bf16", "bf16",
              (*_chain(3), Site(residual=True, other_user=True)), 1e-6, _expect(3, 0.0, 1e-6, optional=1), _R,
              "the last all-reduce has another user: not fused, or fused keeping that all-reduce"),
    ModelSpec("residual-no-all-reduce-bf16", "bf16", "bf16", _chain(4, all_reduce=False), 1e-6,
              _expect(0, 0.0, 1e-6), _R, "norms of local tensors: nothing to fuse"),
)  # fmt: skip


def model_spec(model_id: str) -> ModelSpec:
    """The table entry called ``model_id``."""
    for spec in MODELS:
        if spec.id == model_id:
            return spec
    raise KeyError(f"no test model {model_id!r}; known: {', '.join(m.id for m in MODELS)}")


class NormChain(torch.nn.Module):
    """The model of a ModelSpec; weights shared by all ranks, ``proj`` and inputs per rank."""

    def __init__(self, spec: ModelSpec, group_name: str, seed: int, rank: int) -> None:
        super().__init__()
        self.spec, self.group_name = spec, group_name
        shared, own = generator(seed, spec.id, -1), generator(seed, spec.id, rank)
        weights = []
        for site in spec.sites:
            w = weight_values(HIDDEN, 1.0 if site.scale.startswith("gemma") else 0.0, shared)
            weights.append(torch.nn.Parameter(w.to(spec.weight_torch_dtype), requires_grad=False))
        self.weights = torch.nn.ParameterList(weights)
        projs = [torch.randn(HIDDEN, HIDDEN, generator=own) / HIDDEN**0.5 for _ in spec.sites[1:]]
        self.projs = torch.nn.ParameterList(
            [torch.nn.Parameter(p.to(spec.torch_dtype), requires_grad=False) for p in projs]
        )
        self.example = torch.randn(TOKENS, HIDDEN, generator=own).to(spec.torch_dtype)

    def _scale(self, i: int) -> torch.Tensor | None:
        w, scale = self.weights[i], self.spec.sites[i].scale
        if scale == "none":
            return None
        if scale == "gemma-float":
            return w.float() + 1.0
        if scale == "gemma":
            return w + 1.0
        return w

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        eps, extra = self.spec.eps, []
        residual = h  # set at the first site, which has no residual to add
        for i, site in enumerate(self.spec.sites):
            a = ops.all_reduce(h, self.group_name) if site.all_reduce else h
            if site.other_user:
                extra.append(a)
            if site.residual:
                y, residual = ops.fused_add_rms_norm(a, residual, self._scale(i), eps, 0.0)
            else:
                y, residual = ops.rms_norm(a, self._scale(i), eps, 0.0), a
            if i + 1 < len(self.spec.sites):
                h = y @ self.projs[i]
        return (y, residual, *extra)


def build(
    spec: ModelSpec, group_name: str, seed: int, rank: int = 0, device: str | torch.device = "cpu"
) -> tuple[NormChain, list[torch.Tensor]]:
    """The model of ``rank`` on ``device`` and its flat inputs (weights, projections, then h) in graph order."""
    model = NormChain(spec, group_name, seed, rank).to(device)
    return model, [*(p.detach() for p in model.parameters()), model.example.to(device)]
