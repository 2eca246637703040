"""Exact checks of the timing statistics and the byte counts behind GB/s (no device needed)."""

from __future__ import annotations

import functools

import pytest
import torch

from pytest_normfusion.perf import stats, timing


def test_quantiles_interpolate_linearly_like_numpy() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]
    assert stats.quantile(samples, 0.0) == 1.0
    assert stats.quantile(samples, 1.0) == 4.0
    assert stats.quantile(samples, 0.5) == 2.5
    assert stats.quantile(samples, 0.25) == 1.75
    assert stats.quantile(samples, 0.75) == 3.25
    assert stats.median([7.0]) == 7.0
    assert stats.median([3.0, 1.0, 2.0]) == 2.0


def test_quantile_rejects_nothing_and_bad_q() -> None:
    with pytest.raises(ValueError, match="no samples"):
        stats.quantile([], 0.5)
    with pytest.raises(ValueError, match="outside"):
        stats.quantile([1.0], 1.5)


def test_summary_of_samples() -> None:
    s = stats.summarize([5.0, 1.0, 9.0, 3.0, 7.0])
    assert s == stats.Summary(median=5.0, low=1.0, high=9.0, iqr=4.0, n=5)


def test_norm_bytes_counts_each_stream_once() -> None:
    # bf16 4096 x 4096: x read, y written, fp32 weight read once
    assert stats.norm_bytes(4096, 4096, 2, 4, residual=False) == 2 * 4096 * 4096 * 2 + 4096 * 4
    # with residual: x, r read; y, r_out written; no weight
    assert stats.norm_bytes(1, 8192, 2, 0, residual=True) == 4 * 8192 * 2


def test_gbps_is_decimal_and_refuses_zero_time() -> None:
    assert stats.gbps(3e9, 1.5) == 2.0
    with pytest.raises(ValueError, match="non-positive"):
        stats.gbps(1.0, 0.0)


@pytest.mark.parametrize(
    ("bytes_per_call", "l2", "sets"),
    [
        (16 * 1024, 60 << 20, 8),  # decode-sized: 8 sets, 1/480 of L2, stay in it
        (480 << 10, 60 << 20, 8),  # 8 sets fill 1/16 of L2: still kept there
        ((480 << 10) + 1, 60 << 20, 256),  # past that: enough sets to span two L2 sizes
        (4 << 20, 60 << 20, 30),  # T = 256 x 4096: 8 sets would hold about one L2
        (30 << 20, 50 << 20, 4),  # ceil(2 x 50 / 30)
        (512 << 20, 50 << 20, 2),  # larger than L2: two sets still alternate
    ],
)
def test_rotations_keep_inputs_in_l2_or_span_it_twice(bytes_per_call: int, l2: int, sets: int) -> None:
    assert timing.rotations(bytes_per_call, l2) == sets


def test_rotations_are_never_between_in_l2_and_out_of_it() -> None:
    l2 = 60 << 20
    for kib in range(1, 64 << 10, 7):
        sets = timing.rotations(kib << 10, l2)
        held = sets * (kib << 10)
        assert held * timing.HOT_L2_SHARE <= l2 or held >= timing.L2_SPAN * l2, (kib, sets)


def test_calls_per_graph_holds_whole_rotations_of_many_sets() -> None:
    assert timing.calls_per_graph(2e-6, 256) == 512  # 1 ms / 2 us = 500 calls -> 2 rotations of 256


def test_calls_per_graph_is_whole_rotations() -> None:
    assert timing.calls_per_graph(4e-6, 8) == 256  # 1 ms / 4 us = 250 calls -> 32 rotations of 8
    assert timing.calls_per_graph(1e-7, 8) == 1024  # capped
    assert timing.calls_per_graph(5e-3, 2) == 2  # one rotation at least


def test_timing_record_reports_median_gbps_and_roofline_fraction() -> None:
    t = timing.Timing(samples=[2e-6, 1e-6, 3e-6], mode="cuda-graph", sets=8, calls_per_sample=504)
    rec = t.record(nbytes=4000, copy_gbps=3000.0)
    assert rec["us"] == pytest.approx(2.0)
    assert (rec["us_low"], rec["us_high"]) == pytest.approx((1.0, 3.0))
    assert rec["gbps"] == pytest.approx(2.0)
    assert rec["copy_fraction"] == pytest.approx(2.0 / 3000.0)
    assert rec["timing_mode"] == "cuda-graph" and "timing_note" not in rec


def test_eager_timing_carries_its_note() -> None:
    t = timing.Timing(samples=[1e-6], mode="eager", sets=2, calls_per_sample=2, note="eager: capture failed")
    assert t.record()["timing_note"] == "eager: capture failed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA events and graphs need a CUDA device")
def test_sampling_on_gpu_measures_a_copy() -> None:
    src = torch.ones(1 << 22, device="cuda")
    dst = torch.empty_like(src)
    (t,) = timing.sample_in_blocks([timing.prepare([lambda: dst.copy_(src)])], repeats=3)
    assert t.mode == "cuda-graph" and len(t.samples) == 3 and min(t.samples) > 0


class _Logged(timing.Prepared):
    """A prepared candidate of two input sets whose samples are given, logging each eager call
    (``a0``, ``a1``), each untimed run of its graph (``A``) and each sample (``a``)."""

    def __init__(self, name: str, log: list[str], seconds: float) -> None:
        calls = [functools.partial(log.append, f"{name}{k}") for k in range(2)]
        super().__init__(lambda: log.append(name.upper()), "cuda-graph", sets=2, calls_per_sample=8, calls=calls)
        self.name, self.log, self.seconds = name, log, seconds

    def sample(self) -> float:
        self.log.append(self.name)
        return self.seconds


def test_sampling_goes_in_alternating_blocks_each_after_eager_calls_and_an_untimed_run(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    log: list[str] = []
    a, b, c = (_Logged(n, log, s) for n, s in (("a", 1e-6), ("b", 2e-6), ("c", 3e-6)))
    ta, tb, tc = timing.sample_in_blocks([a, b, c], repeats=5, blocks=3)
    # blocks of 2, forward, backward, forward; the last block holds what is left (1)
    blocks = (
        "a0 a1 A a a b0 b1 B b b c0 c1 C c c",
        "c0 c1 C c c b0 b1 B b b a0 a1 A a a",
        "a0 a1 A a b0 b1 B b c0 c1 C c",
    )
    assert log == " ".join(blocks).split()
    assert (ta.samples, tb.samples, tc.samples) == ([1e-6] * 5, [2e-6] * 5, [3e-6] * 5)
    assert (tb.mode, tb.sets, tb.calls_per_sample) == ("cuda-graph", 2, 8)
    log.clear()
    timing.sample_in_blocks([a, b], repeats=2, blocks=3)  # the third block has nothing left to take
    assert log == " ".join(("a0 a1 A a b0 b1 B b", "b0 b1 B b a0 a1 A a")).split()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_prepared_graph_keeps_its_inputs_alive() -> None:
    """A graph replays raw addresses: its inputs must outlive the call list it was made from."""
    import weakref

    src = torch.ones(1 << 20, device="cuda")
    dst = torch.empty_like(src)
    alive = weakref.ref(src)
    prepared = timing.prepare([functools.partial(dst.copy_, src)])
    del src
    assert alive() is not None
    assert prepared.mode == "cuda-graph" and prepared.calls_per_sample >= 1
    assert prepared.sample() > 0
