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
        try:
            rivals[other.name] = measure(other, case, device, seed)
        except Exception as exc:  # a broken peer is recorded, and the candidate is not judged against it
            declined[other.name] = f"raised {type(exc).__name__}: {exc}".splitlines()[0]
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


# ------------------------------------------------------------ all-reduce fusion

PERF_AR_HIDDEN = (4096, 8192)
# DESIGN.md 9 (2 x H200): the fused kernel leads 2.1x at T=1 and falls to 0.95x at T=8192.
PERF_AR_TOKENS_FULL = (1, 16, 128, 512, 2048, 8192)
PERF_AR_TOKENS_QUICK = (1, 128, 2048, 8192)
# the norm of the unfused side when the candidate has no fused_add_rms_norm of its own
UNFUSED_NORM_FALLBACK = "torch-compile"


def allreduce_sweep(dtypes: tuple[str, ...], world_sizes: tuple[int, ...], *, full: bool) -> Iterator[Case]:
    """allreduce_rms_norm with a residual, same-dtype weight, weight_bias 0 and 1, per world size >= 2."""
    tokens = PERF_AR_TOKENS_FULL if full else PERF_AR_TOKENS_QUICK
    for ws, dtype in itertools.product(
        sorted(w for w in world_sizes if w >= 2), [d for d in PERF_DTYPES if d in dtypes]
    ):
        for bias, hidden, t in itertools.product((0.0, 1.0), PERF_AR_HIDDEN, tokens):
            yield Case("allreduce_rms_norm", dtype, dtype, bias, t, hidden, PERF_EPS, residual=True, world_size=ws)


def unfused_norm(candidate: Candidate, case: Case, fallback: Candidate) -> Candidate:
    """The fused-add norm after NCCL's all_reduce: the candidate's own when it takes the case."""
    single = dataclasses.replace(case, op="fused_add_rms_norm", world_size=1)
    if candidate.method("fused_add_rms_norm") is not None and candidate.declines(single) is None:
        return candidate
    return fallback


def time_allreduce(
    candidate: Candidate, norm: Candidate, case: Case, group: Any, device: Any, seed: int
) -> tuple[timing.Timing, timing.Timing]:
    """(fused, unfused) timings on this rank; every rank of ``group`` must call it alike.

    Unfused is NCCL ``all_reduce`` of x in place (as an engine does on its GEMM
    output) then ``norm.fused_add_rms_norm``; repeated calls grow x, which changes
    the values, not the time. Ranks agree on the calls per graph (the slowest
    rank's warm-up) so their collectives match.
    """
    import torch
    import torch.distributed as dist

    def slowest(seconds: float) -> float:
        t = torch.tensor([seconds], device=device, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
        return float(t.item())

    generator = torch.Generator(device=device).manual_seed(seed * 1009 + dist.get_rank(group))
    sets = timing.rotations(case_bytes(case), timing.l2_bytes(str(device)))
    fused_fn, norm_fn = candidate.method(case.op), norm.method("fused_add_rms_norm")
    fused, unfused = [], []
    for _ in range(sets):
        x, residual, weight = device_inputs(case, str(device), generator)
        fused.append(functools.partial(fused_fn, x, residual, weight, case.eps, case.weight_bias, group))
        x2, r2 = x.clone(), residual.clone()

        def all_reduce_then_norm(x2=x2, r2=r2, weight=weight) -> None:
            dist.all_reduce(x2, group=group)
            norm_fn(x2, r2, weight, case.eps, case.weight_bias)

        unfused.append(all_reduce_then_norm)
    return timing.time_calls(fused, agree=slowest), timing.time_calls(unfused, agree=slowest)


def allreduce_rank_job(ctx: Any, payload: tuple[str, Case, int]) -> dict[str, Any]:
    """What each pool rank runs for an all-reduce perf check: plain data back."""
    spec, case, seed = payload
    candidate = ctx.candidate(spec)
    norm = unfused_norm(candidate, case, ctx.candidate(UNFUSED_NORM_FALLBACK))
    fused, unfused = time_allreduce(candidate, norm, case, ctx.group, ctx.device, seed)
    return {
        "fused_us": fused.summary.median * 1e6,
        "unfused_us": unfused.summary.median * 1e6,
        "fused_mode": fused.mode,
        "unfused_mode": unfused.mode,
        "notes": [t.note for t in (fused, unfused) if t.note],
        "unfused_norm": norm.name,
    }


def allreduce_verdict(name: str, ranks: list[dict[str, Any]], min_speedup: float) -> tuple[list[str], dict[str, Any]]:
    """Problems and metrics from every rank's timings: each side's time is its slowest rank's median."""
    fused = max(r["fused_us"] for r in ranks)
    unfused = max(r["unfused_us"] for r in ranks)
    speedup = unfused / fused
    metrics = {
        "us": fused,
        "unfused_us": unfused,
        "speedup_vs_unfused": speedup,
        "unfused_norm": ranks[0]["unfused_norm"],
        "timing_mode": ranks[0]["fused_mode"],
        "unfused_timing_mode": ranks[0]["unfused_mode"],
    }
    notes = sorted({n for r in ranks for n in r["notes"]})
    if notes:
        metrics["timing_note"] = "; ".join(notes)
    problems = []
    if speedup < min_speedup:
        problems.append(
            f"{name} fused {fused:.2f} us vs all_reduce + {metrics['unfused_norm']} {unfused:.2f} us: "
            f"speedup {speedup:.2f}x < {min_speedup:.2f}x"
        )
    return problems, metrics
