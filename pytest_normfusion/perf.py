"""Speed checks: a candidate against the reference and named peers, timed in one run (GPU).

The sweep is a table of ``Case``s (contiguous rows, normal magnitudes); every
candidate of a case is timed the same way (CUDA-graph replays over rotating input
sets made on the device, ``timing.prepare``), the candidates of one comparison in
alternating rounds, and the verdict is a ratio of medians: a candidate falls short of
a rival when the ratio is below ``min_speedup`` by more than the medians' uncertainty
(``median_interval``); within it, the two are tied, which passes and is recorded.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
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
# A median's ~95 % interval is median +- NOTCH * IQR / sqrt(repeats): the notch of a box
# plot (McGill, Tukey and Larsen, 1978). Two medians whose intervals overlap are a tie.
NOTCH = 1.57


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
    """Timings of the prepared candidates, sampled in alternating rounds."""
    import torch

    timed = dict(zip(prepared, timing.sample_interleaved(list(prepared.values())), strict=True))
    torch.cuda.synchronize()
    return timed


def measure_all(
    candidates: Sequence[Candidate], case: Case, device: str, seed: int
) -> tuple[dict[str, timing.Timing], dict[str, str]]:
    """Time every candidate that takes the case, in alternating rounds; the others with why not."""
    prepared, skipped = prepare_all(candidates, case, device, seed)
    return sample(prepared), skipped


def _spread(summary: timing.Summary) -> float:
    return summary.iqr / summary.median


def median_interval(summary: timing.Summary) -> tuple[float, float]:
    """The median's ~95 % interval from its repeats (``NOTCH``)."""
    half = NOTCH * summary.iqr / math.sqrt(summary.n)
    return summary.median - half, summary.median + half


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

    def short_of(self) -> dict[str, bool]:
        """Rivals the candidate's median is not ``min_speedup`` times faster than -> whether
        that holds beyond the medians' intervals (True: a real gap; False: a tie)."""
        low, _ = median_interval(self.timing.summary)
        return {
            rival: median_interval(self.rivals[rival].summary)[1] < self.min_speedup * low
            for rival, ratio in self.speedups().items()
            if ratio < self.min_speedup
        }

    def problems(self, name: str) -> list[str]:
        """One line per rival the candidate is short of beyond the noise, with each side's
        spread (IQR / median)."""
        mine = self.timing.summary
        return [
            f"{name} {mine.median * 1e6:.2f} us vs {rival} {self.rivals[rival].summary.median * 1e6:.2f} us: "
            f"speedup {self.speedups()[rival]:.3f}x < {self.min_speedup:.2f}x beyond the medians' 95% intervals "
            f"(IQR/median: {name} {_spread(mine):.1%}, {rival} {_spread(self.rivals[rival].summary):.1%})"
            for rival, real in self.short_of().items()
            if real
        ]

    def metrics(self, case: Case, copy_gbps: float) -> dict[str, Any]:
        """Plain data for the suite's record and pytest-benchmark's extra_info."""
        nbytes = case_bytes(case)
        out = self.timing.record(nbytes, copy_gbps)
        for rival, t in self.rivals.items():
            out[f"{rival}_us"] = t.summary.median * 1e6
            out[f"speedup_vs_{rival}"] = self.speedups()[rival]
        for rival, real in self.short_of().items():
            if not real:
                out[f"tie_with_{rival}"] = f"speedup {self.speedups()[rival]:.4f}x, within the medians' 95% intervals"
        for rival, why in self.declined.items():
            out[f"{rival}_declined"] = why
        return out


def compare(
    candidate: Candidate, case: Case, peers: list[str], device: str, seed: int, min_speedup: float
) -> Comparison:
    """Time the candidate, the reference and each peer that takes the case, in alternating rounds.

    A candidate that raises while warming up raises here; a rival that does is recorded
    as declined, and the candidate is not judged against it."""
    rivals = [r for r in (peer(spec) for spec in [REFERENCE, *peers]) if r.name != candidate.name]
    mine = prepare(candidate, case, device, seed)
    prepared, declined = prepare_all(rivals, case, device, seed)
    timed = sample({candidate.name: mine, **prepared})
    return Comparison(timed.pop(candidate.name), timed, declined, min_speedup)


def benchmark_fixture(request: Any) -> Any:
    """pytest-benchmark's ``benchmark`` fixture where that plugin is active and not skipping, else None."""
    import pytest

    if request.config.getoption("benchmark_skip", False):
        return None
    try:
        return request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:  # pytest-benchmark not installed, or -p no:benchmark
        return None


def store_in_benchmark(benchmark: Any, timed: timing.Timing, info: dict[str, Any]) -> None:
    """Hand our CUDA-event samples to pytest-benchmark as its rounds, and the record as extra_info.

    pytest-benchmark has no public way to take externally timed rounds; its
    ``_make_stats`` is what ``benchmark(...)`` itself uses (5.x). If it is gone,
    the samples still ride ``extra_info``.
    """
    benchmark.extra_info.update(info, samples_s=list(timed.samples))
    benchmark._mode = "CUDA-event timing (pytest-normfusion)"  # used: no "fixture was not used" warning
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None or getattr(benchmark, "disabled", False):  # e.g. disabled under xdist
        return
    stats = make_stats(1)
    for sample in timed.samples:
        stats.update(sample)


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
    fused_t, unfused_t = timing.sample_interleaved(
        [timing.prepare(fused, agree=slowest), timing.prepare(unfused, agree=slowest)]
    )
    return fused_t, unfused_t


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
