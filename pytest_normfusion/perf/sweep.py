"""The perf sweep: a table of ``Case``s (contiguous rows, normal magnitudes), and the timing of a
candidate against the reference and named peers in one run (GPU).

Every candidate of a case is timed the same way (CUDA-graph replays over rotating input
sets made on the device, ``timing.prepare``), the candidates of one comparison in
alternating blocks; ``verdict.py`` judges the ratios.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pytest_normfusion.core.call import arguments
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import weight_values
from pytest_normfusion.loading import Candidate, cached_candidate
from pytest_normfusion.perf import timing
from pytest_normfusion.perf.verdict import Comparison, case_bytes

PERF_DTYPES = ("fp16", "bf16")
PERF_HIDDEN = (2048, 4096, 5120, 8192)
# Decode (launch-bound) through prefill (bandwidth-bound); the quick sweep keeps the ends
# and the crossover near 256 tokens where FlashInfer stops leading (DESIGN.md 9).
PERF_TOKENS_FULL = (1, 4, 16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
PERF_TOKENS_QUICK = (1, 256, 4096, 32768)
PERF_EPS = 1e-6
REFERENCE = "reference"


def sweep(dtypes: tuple[str, ...], *, full: bool) -> Iterator[Case]:
    """rms_norm and fused_add_rms_norm over tokens x hidden x dtype x weight (same, fp32) x weight_bias."""
    tokens = PERF_TOKENS_FULL if full else PERF_TOKENS_QUICK
    for op, dtype in itertools.product(("rms_norm", "fused_add_rms_norm"), [d for d in PERF_DTYPES if d in dtypes]):
        for weight, bias, hidden, t in itertools.product((dtype, "fp32"), (0.0, 1.0), PERF_HIDDEN, tokens):
            yield Case(op, dtype, weight, bias, t, hidden, PERF_EPS, residual=op != "rms_norm")


def device_inputs(case: Case, device: str, gen: Any) -> tuple[Any, Any, Any]:
    """Random x, residual and weight made on the device (the values do not matter for speed)."""
    import torch

    shape = (case.tokens, case.hidden)
    x = torch.randn(shape, device=device, generator=gen).to(case.torch_dtype)
    residual = torch.randn(shape, device=device, generator=gen).to(case.torch_dtype) if case.residual else None
    weight = None
    if case.weight != "none":
        weight = weight_values(case.hidden, case.weight_bias, gen, device).to(case.weight_torch_dtype)
    return x, residual, weight


def _calls(candidate: Candidate, case: Case, device: str, sets: int, seed: int) -> list[Callable[[], Any]]:
    """One zero-argument call per input set (a candidate may overwrite its x and residual)."""
    import torch

    fn = candidate.method(case.op)
    gen = torch.Generator(device=device).manual_seed(seed)
    return [functools.partial(fn, *arguments(case, *device_inputs(case, device, gen))) for _ in range(sets)]


def prepare(candidate: Candidate, case: Case, device: str, seed: int) -> timing.Prepared:
    """The candidate's calls on rotating input sets, warmed up and captured."""
    sets = timing.rotations(case_bytes(case), timing.l2_bytes(device))
    return timing.prepare(_calls(candidate, case, device, sets, seed))


def not_timed(candidate: Candidate, case: Case) -> str | None:
    """Why the candidate is not timed on the case (it has no such op, or declines it), or None."""
    if candidate.method(case.op) is None:
        return f"{candidate.name} has no {case.op}"
    return candidate.declines(case)


def prepare_all(
    candidates: Sequence[Candidate], case: Case, device: str, seed: int
) -> tuple[dict[str, timing.Prepared], dict[str, str]]:
    """Each candidate that takes the case, prepared; the others with why not (declined, or
    raised while warming up: one broken candidate does not end the others)."""
    prepared: dict[str, timing.Prepared] = {}
    skipped: dict[str, str] = {}
    for candidate in candidates:
        why = not_timed(candidate, case)
        if why:
            skipped[candidate.name] = why
            continue
        try:
            prepared[candidate.name] = prepare(candidate, case, device, seed)
        except Exception as exc:
            skipped[candidate.name] = f"raised {type(exc).__name__}: {exc}".splitlines()[0]
    return prepared, skipped


def sample(prepared: dict[str, timing.Prepared]) -> dict[str, timing.Timing]:
    """Timings of the prepared candidates, sampled in alternating blocks."""
    import torch

    timed = dict(zip(prepared, timing.sample_in_blocks(list(prepared.values())), strict=True))
    torch.cuda.synchronize()
    return timed


def measure_all(
    candidates: Sequence[Candidate], case: Case, device: str, seed: int
) -> tuple[dict[str, timing.Timing], dict[str, str]]:
    """Time every candidate that takes the case, in alternating blocks; the others with why not."""
    prepared, skipped = prepare_all(candidates, case, device, seed)
    return sample(prepared), skipped


def time_against(
    candidate: Candidate, case: Case, peers: list[str], device: str, seed: int, min_speedup: float
) -> Comparison:
    """Time the candidate, the reference and each peer that takes the case, in alternating blocks.

    A candidate that raises while warming up raises here; a rival that does is recorded
    as declined, and the candidate is not judged against it."""
    rivals = [r for r in (cached_candidate(spec) for spec in [REFERENCE, *peers]) if r.name != candidate.name]
    mine = prepare(candidate, case, device, seed)
    prepared, declined = prepare_all(rivals, case, device, seed)
    timed = sample({candidate.name: mine, **prepared})
    return Comparison(timed.pop(candidate.name), timed, declined, min_speedup)
