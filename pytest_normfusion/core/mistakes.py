"""Known wrong variants of the semantics, to name the mistake a failing output shows.

Computed only for a case that already failed (no cost on passing cases). Each
variant is the reference with one known bug put in; when ``y`` matches one far
better than any allowed profile, the failure message says so in words, on its first line.
Naming only: a match never decides a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from pytest_normfusion.core.case import Case

# y "matches" a variant when at most this fraction of its elements differ from it (a kernel with
# the same bug but another reduction order differs in ~1e-4, the bug itself in 20-100 %), and
# fewer than from every allowed profile. Naming only, never part of a verdict.
MATCH_FRACTION = 0.01


def _rms(s: torch.Tensor) -> torch.Tensor:
    return s.pow(2).mean(dim=-1, keepdim=True)


def _variants(
    case: Case, s: torch.Tensor, w: torch.Tensor | None, x: torch.Tensor | None, dtype: torch.dtype
) -> Iterator[tuple[str, Callable[[], torch.Tensor]]]:
    """(words, thunk giving the wrong y) for every known mistake that can show in this case."""
    wb, eps = case.weight_bias, case.eps
    scale: Any = 1.0 if w is None else w.float() + wb

    def out(normed: torch.Tensor, by: Any = None) -> torch.Tensor:
        return (normed * (scale if by is None else by)).to(dtype)

    if w is not None and (wb or case.mixed_weight):
        what = "(1 + w)" if wb == 1 else f"(w + {wb:g})" if wb else f"the {case.weight} weight"
        yield (
            f"matches {what} rounded to {case.dtype} before the multiply (a known bug: vLLM #29810; "
            f"(w + weight_bias) must stay in fp32)",
            lambda: out(s * torch.rsqrt(_rms(s) + eps), scale.to(dtype).float()),
        )
    yield (
        f"matches the inverse RMS rounded to {case.dtype} before the multiply (1 / sqrt(mean(x^2) + eps) "
        "must stay in fp32)",
        lambda: out(s * torch.rsqrt(_rms(s) + eps).to(dtype).float()),
    )
    yield (
        "matches eps added outside the square root: x / (sqrt(mean(x^2)) + eps); eps belongs inside",
        lambda: out(s / (_rms(s).sqrt() + eps)),
    )
    if w is not None:
        yield (
            "matches the weight left out: y is the normalised x, unscaled",
            lambda: out(s * torch.rsqrt(_rms(s) + eps), 1.0),
        )
    if w is not None and wb:
        yield (
            f"matches weight_bias={wb:g} ignored: scaled by w instead of (w + {wb:g}) (Gemma's (1 + w) read as w)",
            lambda: out(s * torch.rsqrt(_rms(s) + eps), w.float()),
        )
    if x is not None:
        xf = x.float()
        yield (
            "matches the norm of x alone: the residual was not added before the norm",
            lambda: out(xf * torch.rsqrt(_rms(xf) + eps)),
        )
    yield (
        f"matches statistics computed in {case.dtype}: mean(x^2) must be computed in fp32 "
        "(fp16 squares overflow past 256, bf16 loses the sum)",
        lambda: out(s * torch.rsqrt(s.to(dtype).pow(2).mean(dim=-1, keepdim=True).float() + eps)),
    )


def explain(
    case: Case,
    y: torch.Tensor,
    s32: torch.Tensor,
    rounded: torch.Tensor,
    w: torch.Tensor | None,
    x: torch.Tensor | None,
    rows: list[Any],
    ok: Callable[[Any], bool],
) -> list[str]:
    """Phrases ("matches ...", "follows ...") naming the mistake ``y`` shows, if a known one; ``rows`` are
    the judge's profile rows."""
    lines = [
        f"follows the {r.profile.name} profile, which is not allowed here: {r.forbidden}"
        for r in rows
        if r.forbidden and ok(r)
    ]
    allowed = [r for r in rows if not r.forbidden]
    best = min(r.differ for r in allowed)
    sums_rounded = allowed and min(allowed, key=lambda r: r.differ).profile.residual_sum == "rounded-sum"
    s = rounded.float() if sums_rounded else s32
    n = y.numel()
    for words, wrong in _variants(case, s, w, x, y.dtype):
        variant = wrong()
        differ = int((y != variant).sum())
        if differ <= MATCH_FRACTION * n and differ < best and any(bool((variant != r.ref).any()) for r in allowed):
            lines.append(words)
            break
    return lines


def explain_residual(r_out: torch.Tensor, x: torch.Tensor | None, residual: torch.Tensor | None) -> str:
    """A first line naming a known residual mistake, or ''."""
    if residual is not None and torch.equal(r_out, residual.to(r_out.device)):
        return "residual_out is the input residual unchanged: x was not added to it\n"
    if x is not None and torch.equal(r_out, x.to(r_out.device)):
        return "residual_out is x: the residual was not added to it\n"
    return ""
