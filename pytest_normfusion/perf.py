"""Speed checks: a candidate against the reference and named peers, timed in one run (GPU).

The sweep is a table of ``Case``s (contiguous rows, normal magnitudes); every
candidate of a case is timed the same way (``timing.time_calls`` over rotating
input sets made on the device), and the verdict is a ratio of medians.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from pytest_normfusion import timing
from pytest_normfusion.loading import Candidate, load_candidate
from pytest_normfusion.matrix import Case

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


@dataclasses.dataclass(frozen=True)
class PerfSettings:
    """What the perf options asked for."""

    peers: list[str]  # specs, in the order given
    min_speedup: float  # required rival time / candidate time


def parse_peers(value: str) -> list[str]:
    """``"torch-compile, flashinfer"`` -> ``["torch-compile", "flashinfer"]`` (order kept, no repeats)."""
    peers: list[str] = []
    for name in (v.strip() for v in value.split(",")):
        if name and name not in peers:
            peers.append(name)
    return peers


def parse_min_speedup(value: str) -> float:
    """A positive ratio; raises ValueError naming the accepted form."""
    try:
        ratio = float(value)
    except ValueError:
        raise ValueError(f"expected a positive number such as 1.0, got {value!r}") from None
    if not ratio > 0:
        raise ValueError(f"expected a positive number such as 1.0, got {value!r}")
    return ratio


@functools.cache
def peer(spec: str) -> Candidate:
    """A peer or the reference, loaded once per process."""
    return load_candidate(spec)


def device_inputs(case: Case, device: str, generator: Any) -> tuple[Any, Any, Any]:
    """Random x, residual and weight made on the device (the values do not matter for speed)."""
    import torch

    shape = (case.tokens, case.hidden)
    x = torch.randn(shape, device=device, generator=generator).to(case.torch_dtype)
    residual = torch.randn(shape, device=device, generator=generator).to(case.torch_dtype) if case.residual else None
    weight = None
    if case.weight != "none":
        w = torch.randn(case.hidden, device=device, generator=generator)
        weight = (0.3 * w if case.weight_bias else 1.0 + 0.1 * w).to(case.weight_torch_dtype)
    return x, residual, weight


def _calls(candidate: Candidate, case: Case, device: str, sets: int, seed: int) -> list[Callable[[], Any]]:
    """One zero-argument call per input set (a candidate may overwrite its x and residual)."""
    import torch

    fn = candidate.method(case.op)
    generator = torch.Generator(device=device).manual_seed(seed)
    calls = []
    for _ in range(sets):
        x, residual, weight = device_inputs(case, device, generator)
        if case.op == "rms_norm":
            calls.append(functools.partial(fn, x, weight, case.eps, case.weight_bias))
        else:
            calls.append(functools.partial(fn, x, residual, weight, case.eps, case.weight_bias))
    return calls


def case_bytes(case: Case) -> int:
    """Bytes the op must move (each input read once, each output written once)."""
    item = 4 if case.dtype == "fp32" else 2
    weight_item = {"none": 0, "fp32": 4}.get(case.weight, 2)
    return timing.norm_bytes(case.tokens, case.hidden, item, weight_item, case.residual)


def measure(candidate: Candidate, case: Case, device: str, seed: int) -> timing.Timing:
    """Time one candidate on one case."""
    import torch

    sets = timing.rotations(case_bytes(case), timing.l2_bytes(device))
    timed = timing.time_calls(_calls(candidate, case, device, sets, seed))
    torch.cuda.synchronize()
    return timed


@dataclasses.dataclass
class Comparison:
    """The candidate's timing, each rival's, and the verdict."""

    timing: timing.Timing
    rivals: dict[str, timing.Timing]  # name -> timing, the reference included
    declined: dict[str, str]  # rivals that do not take the case -> why
    min_speedup: float

    def speedups(self) -> dict[str, float]:
        """Rival median / candidate median: above 1 the candidate is faster."""
        mine = self.timing.summary.median
        return {name: t.summary.median / mine for name, t in self.rivals.items()}

    def problems(self, name: str) -> list[str]:
        """One line per rival the candidate is not ``min_speedup`` times faster than."""
        mine = self.timing.summary.median * 1e6
        return [
            f"{name} {mine:.2f} us vs {rival} {self.rivals[rival].summary.median * 1e6:.2f} us: "
            f"speedup {ratio:.2f}x < {self.min_speedup:.2f}x"
            for rival, ratio in self.speedups().items()
            if ratio < self.min_speedup
        ]

    def metrics(self, case: Case, copy_gbps: float) -> dict[str, Any]:
        """Plain data for the suite's record and pytest-benchmark's extra_info."""
        nbytes = case_bytes(case)
        out = self.timing.record(nbytes, copy_gbps)
        for rival, t in self.rivals.items():
            out[f"{rival}_us"] = t.summary.median * 1e6
            out[f"speedup_vs_{rival}"] = self.speedups()[rival]
        for rival, why in self.declined.items():
            out[f"{rival}_declined"] = why
        return out


def compare(
    candidate: Candidate, case: Case, peers: list[str], device: str, seed: int, min_speedup: float
) -> Comparison:
    """Time the candidate, the reference and each peer that takes the case, in this order."""
    mine = measure(candidate, case, device, seed)
    rivals: dict[str, timing.Timing] = {}
    declined: dict[str, str] = {}
    for spec in [REFERENCE, *peers]:
        other = peer(spec)
        if other.name == candidate.name:
            continue
        why = other.declines(case) if other.method(case.op) else f"{other.name} has no {case.op}"
        if why:
            declined[other.name] = why
            continue
        rivals[other.name] = measure(other, case, device, seed)
    return Comparison(mine, rivals, declined, min_speedup)


def store_in_benchmark(benchmark: Any, timed: timing.Timing, info: dict[str, Any]) -> None:
    """Hand our CUDA-event samples to pytest-benchmark as its rounds, and the record as extra_info.

    pytest-benchmark has no public way to take externally timed rounds; its
    ``_make_stats`` is what ``benchmark(...)`` itself uses (5.x). If it is gone,
    the samples still ride ``extra_info``.
    """
    benchmark.extra_info.update(info, samples_s=list(timed.samples))
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None or getattr(benchmark, "disabled", False):
        return
    stats = make_stats(1)
    for sample in timed.samples:
        stats.update(sample)
    benchmark._mode = "CUDA-event timing (pytest-normfusion)"
