"""Fresh random inputs for a case, derived from the session seed and the case id alone.

The same (seed, case id, rank) gives the same tensors in any order, process or
xdist worker, so a failure re-runs identically on its own.
"""

from __future__ import annotations

import dataclasses
import hashlib

import torch

from pytest_normfusion.core.case import Case


@dataclasses.dataclass
class Inputs:
    """One rank's inputs; ``x`` and ``residual`` may be strided views."""

    x: torch.Tensor
    residual: torch.Tensor | None
    weight: torch.Tensor | None


def derive_seed(seed: int, what: str, rank: int = 0) -> int:
    """A 63-bit seed from the session seed, what it is for (a case id) and the rank (stable across runs)."""
    digest = hashlib.sha256(f"{seed}:{what}:{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(seed: int, what: str, rank: int = 0) -> torch.Generator:
    """A CPU generator seeded by ``derive_seed``."""
    return torch.Generator().manual_seed(derive_seed(seed, what, rank))


def _activations(case: Case, gen: torch.Generator) -> torch.Tensor:
    """fp32 values of the case's magnitude class (see matrix.MAGNITUDES)."""
    t, h = case.tokens, case.hidden
    x = torch.randn(t, h, generator=gen)
    if case.magnitude == "tiny":
        return x * 1e-4
    if case.magnitude == "outlier":
        rows = torch.rand(t, 1, generator=gen) < 0.25
        x = torch.where(rows, x * 300.0, x)
        cols = torch.randint(0, h, (max(1, h // 64),), generator=gen)
        x[:, cols] *= 10.0  # channels of ~3000 in the outlier rows, ~10 elsewhere
    return x


def _place(values: torch.Tensor, case: Case, device: torch.device | str, gen: torch.Generator) -> torch.Tensor:
    """Cast to the case dtype and lay out as the case says (packed or row-strided)."""
    values = values.to(case.torch_dtype)
    if case.layout == "strided":
        # junk in the padding: a kernel that reads past H is caught
        wide = torch.randn(case.tokens, case.row_stride, generator=gen).to(case.torch_dtype)
        wide[:, : case.hidden] = values
        return wide.to(device)[:, : case.hidden]
    return values.to(device)


def weight_values(
    hidden: int, weight_bias: float, gen: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """fp32 weights as models hold them: LLaMA-like ``1 + 0.1 N`` for weight_bias 0, Gemma-like
    offsets ``0.3 N`` for weight_bias 1 (the model adds the 1)."""
    w = torch.randn(hidden, generator=gen, device=device)
    return w * 0.3 if weight_bias else 1.0 + 0.1 * w


def _weight(case: Case, gen: torch.Generator) -> torch.Tensor | None:
    if case.weight == "none":
        return None
    return weight_values(case.hidden, case.weight_bias, gen).to(case.weight_torch_dtype)


def make_inputs(case: Case, seed: int, device: torch.device | str = "cpu", rank: int = 0, *, call: int = 0) -> Inputs:
    """Inputs of ``rank`` for the case's first call (``call=0``) or a later one, each drawn anew; the
    weight and the residual are shared by all ranks."""
    what = case.id if call == 0 else f"{case.id}:call{call}"
    shared = generator(seed, what, rank=-1)
    weight = _weight(case, shared)
    residual = _activations(case, shared) if case.residual else None
    own = generator(seed, what, rank)
    return Inputs(
        x=_place(_activations(case, own), case, device, own),
        residual=None if residual is None else _place(residual, case, device, shared),
        weight=None if weight is None else weight.to(device),
    )


def clone_like(t: torch.Tensor | None) -> torch.Tensor | None:
    """A copy with the same strides (a strided view stays strided), for the candidate to own."""
    if t is None or t.is_contiguous():
        return None if t is None else t.clone()
    out = torch.empty(t.size(0), t.stride(0), dtype=t.dtype, device=t.device)[:, : t.size(1)]
    return out.copy_(t)
