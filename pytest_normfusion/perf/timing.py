"""GPU timing: CUDA events around CUDA-graph replays over rotating input sets.

The statistics are pure (``stats.py``); ``prepare``, the samplers and
``copy_bandwidth`` touch a device, and they import torch when called. Method (DESIGN.md 6): warm up; capture
many calls, cycling through several input sets so L2 does not hold them all, in one
CUDA graph; time replays with CUDA events; repeat and keep every sample; time the
candidates of one comparison in alternating blocks of samples.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from pytest_normfusion.perf.stats import Summary, gbps, median, summarize

# Input sets cycled through. Calls whose HOT_SETS sets fill at most 1/HOT_L2_SHARE of L2 keep
# them there (a decode step finds its inputs in L2, written by the kernel before it; DESIGN.md 9's
# numbers were taken with 8 sets); larger ones rotate through enough sets to span L2_SPAN L2 sizes,
# so that no call finds its inputs there. Never in between: with 8 sets holding about one L2
# (T = 256 on the H200), the same kernel prepared twice differed by up to 8 %, where its inputs
# happened to lie (docs/performance.md, "Method").
HOT_SETS = 8
HOT_L2_SHARE = 16
MIN_SETS = 2
L2_SPAN = 2
# Capture enough calls that one replay lasts about this long (launch gaps amortised).
TARGET_REPLAY_S = 1e-3
MAX_CALLS_PER_GRAPH = 1024
REPEATS = 15
# Runs of consecutive samples per candidate (sample_in_blocks).
BLOCKS = 3
WARMUP_CALLS = 3
# Replays of the one-rotation graph that sizes the timed one (the fastest is taken).
PROBE_REPLAYS = 3
# Device-copy roofline buffer: far larger than any L2 (50 MiB on H100).
COPY_BYTES = 1 << 30
COPY_CALLS = 4


def rotations(bytes_per_call: int, l2_bytes: int) -> int:
    """How many input sets to cycle through: ``HOT_SETS`` where they fit in a small share of L2,
    else enough to span ``L2_SPAN`` L2 sizes (at least ``MIN_SETS``)."""
    if bytes_per_call <= 0:
        raise ValueError(f"rotations for {bytes_per_call} bytes per call")
    if HOT_SETS * bytes_per_call * HOT_L2_SHARE <= l2_bytes:
        return HOT_SETS
    return max(MIN_SETS, math.ceil(L2_SPAN * l2_bytes / bytes_per_call))


def calls_per_graph(seconds_per_call: float, sets: int) -> int:
    """Calls to capture in one graph: whole rotations lasting about ``TARGET_REPLAY_S``, capped."""
    wanted = TARGET_REPLAY_S / max(seconds_per_call, 1e-9)
    loops = max(1, min(MAX_CALLS_PER_GRAPH // sets, math.ceil(wanted / sets)))
    return loops * sets


@dataclasses.dataclass
class Timing:
    """Raw samples (seconds per call, one per repeat) and how they were taken."""

    samples: list[float]
    mode: str  # "cuda-graph" or "eager"
    sets: int  # input sets rotated through
    calls_per_sample: int
    note: str = ""  # why eager, when it is

    @property
    def summary(self) -> Summary:
        return summarize(self.samples)

    def record(self, nbytes: int | None = None, copy_gbps: float | None = None) -> dict[str, Any]:
        """Plain data for the suite's records, benchmark JSON and pytest-benchmark's extra_info."""
        s = self.summary
        out: dict[str, Any] = {
            "us": s.median * 1e6,
            "us_low": s.low * 1e6,
            "us_high": s.high * 1e6,
            "us_iqr": s.iqr * 1e6,
            "repeats": s.n,
            "timing_mode": self.mode,
            "input_sets": self.sets,
            "calls_per_sample": self.calls_per_sample,
        }
        if self.note:
            out["timing_note"] = self.note
        if nbytes is not None:
            out["gbps"] = gbps(nbytes, s.median)
            if copy_gbps:
                out["copy_gbps"] = copy_gbps
                out["copy_fraction"] = out["gbps"] / copy_gbps
        return out


def _elapsed(run: Callable[[], None], times: int) -> float:
    """Seconds for ``times`` runs, between two CUDA events on the current stream."""
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(times):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


@dataclasses.dataclass
class Prepared:
    """Calls warmed up and captured (or not), ready to be sampled."""

    run: Callable[[], None]  # one sample's work: a graph replay, or the eager loop
    mode: str
    sets: int
    calls_per_sample: int
    note: str = ""
    # the calls, and through them their input tensors: a graph replays raw addresses, so the
    # inputs must live as long as the graph (freed, their memory is reused or unmapped)
    calls: Sequence[Callable[[], Any]] = ()

    def block(self, count: int) -> list[float]:
        """``count`` samples after an untimed rotation of the calls, run eagerly, and an untimed run."""
        import torch

        for call in self.calls:
            call()
        self.run()
        torch.cuda.synchronize()
        return [self.sample() for _ in range(count)]

    def sample(self) -> float:
        """Seconds per call, from one run between two CUDA events."""
        return _elapsed(self.run, 1) / self.calls_per_sample

    def timing(self, samples: list[float]) -> Timing:
        return Timing(samples, self.mode, self.sets, self.calls_per_sample, self.note)


def _capture(rotation: Callable[[], None], loops: int) -> Any:
    """A CUDA graph of ``loops`` rotations, replayed once (so a replay that faults faults here)."""
    import torch

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(loops):
            rotation()
    graph.replay()
    torch.cuda.synchronize()
    return graph


def prepare(calls: Sequence[Callable[[], Any]], agree: Callable[[float], float] | None = None) -> Prepared:
    """Warm up zero-argument calls, each bound to its own input set, and capture whole
    rotations of them into a CUDA graph whose replay lasts about ``TARGET_REPLAY_S``.

    The graph is sized from the replay time of a one-rotation graph, not from eager
    calls: a launcher with a slow Python path (tens of us a call) would otherwise get a
    graph of a few calls, and each call would carry a share of the replay's own launch
    cost. Calls that cannot be captured are run eagerly (a loop of rotations), with the
    reason in ``note``. ``agree`` maps this process's time per call to the one all ranks
    use (e.g. the maximum over a process group), so collectives capture the same number
    of calls everywhere.
    """
    import torch

    def rotation() -> None:
        for call in calls:
            call()

    def calls_for(per_call: float) -> int:
        return calls_per_graph(agree(per_call) if agree else per_call, len(calls))

    for _ in range(WARMUP_CALLS):  # first calls compile (Triton, FlashInfer JIT, inductor)
        rotation()
    torch.cuda.synchronize()
    try:
        probe = _capture(rotation, 1)
    except Exception as exc:  # the candidate's own limitation: time it eagerly and say why
        torch.cuda.synchronize()
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        n_calls = calls_for(_elapsed(rotation, 1) / len(calls))
        loops = n_calls // len(calls)

        def eager() -> None:
            for _ in range(loops):
                rotation()

        return Prepared(eager, "eager", len(calls), n_calls, f"eager: CUDA-graph capture failed: {reason}", calls)
    n_calls = calls_for(min(_elapsed(probe.replay, 1) for _ in range(PROBE_REPLAYS)) / len(calls))
    del probe
    graph = _capture(rotation, n_calls // len(calls))
    return Prepared(graph.replay, "cuda-graph", len(calls), n_calls, calls=calls)


def sample_in_blocks(prepared: Sequence[Prepared], repeats: int = REPEATS, blocks: int = BLOCKS) -> list[Timing]:
    """Sample several prepared candidates in alternating blocks (``Prepared.block``): each block
    runs a candidate's calls once eagerly, then its graph once, untimed, then takes a run of its
    samples; the blocks go through the candidates forward, then backward, so a clock change or a
    neighbour's burst lands on all of them alike.

    A replay's time depends on what ran before it, unevenly across candidates: on the H200, our
    kernels' graphs (programmatic dependent launch) replayed up to 1.4x slower after other
    candidates' graphs than alone, and took their time alone after their own calls ran eagerly
    (docs/performance.md, "Method"); each candidate's block starts as it would alone.
    """
    samples: list[list[float]] = [[] for _ in prepared]
    per_block = math.ceil(repeats / blocks)
    order = range(len(prepared))
    for b in range(blocks):
        for i in order if b % 2 == 0 else reversed(order):
            count = min(per_block, repeats - len(samples[i]))
            if count > 0:  # its samples are all taken: no untimed runs for nothing
                samples[i].extend(prepared[i].block(count))
    return [p.timing(taken) for p, taken in zip(prepared, samples, strict=True)]


@functools.cache
def copy_bandwidth(device: str = "cuda") -> float:
    """Device-copy GB/s (bytes read + written) of ``dst.copy_(src)`` on a 1 GiB buffer; once per process.

    Timed eagerly, events around ``COPY_CALLS`` copies (launch gaps are nothing next to
    a 1 GiB copy): captured in a CUDA graph, the copy becomes a memcpy node, which
    measured 2430 GB/s on an H100 whose copy kernel ran at about 3000.
    """
    import torch

    src = torch.empty(COPY_BYTES, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    src.fill_(1)

    def copy() -> None:
        dst.copy_(src)

    for _ in range(WARMUP_CALLS):
        copy()
    samples = [_elapsed(copy, COPY_CALLS) / COPY_CALLS for _ in range(REPEATS)]
    return gbps(2 * COPY_BYTES, median(samples))


def l2_bytes(device: str = "cuda") -> int:
    import torch

    return int(torch.cuda.get_device_properties(device).L2_cache_size)
