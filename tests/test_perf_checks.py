"""The perf checks' sweep, options, verdicts and records, without a GPU (timings are given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pytest_normfusion import options
from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import allreduce, benchmark, stats, sweep, timing, verdict


def _timed(*us: float) -> timing.Timing:
    return timing.Timing(samples=[u * 1e-6 for u in us], mode="cuda-graph", sets=8, calls_per_sample=256)


CASE = Case("fused_add_rms_norm", "bf16", "bf16", 1.0, 1024, 4096, 1e-6, residual=True)


def test_sweep_covers_the_briefed_dimensions() -> None:
    quick = list(sweep.sweep(("fp16", "bf16", "fp32"), full=False))
    assert len(quick) == 2 * 2 * 2 * 2 * 4 * 4  # op, dtype, weight, bias, hidden, tokens
    assert {c.dtype for c in quick} == {"fp16", "bf16"}  # fp32 x is not swept
    assert {c.weight for c in quick if c.dtype == "bf16"} == {"bf16", "fp32"}
    assert {c.hidden for c in quick} == set(sweep.PERF_HIDDEN)
    assert {c.tokens for c in quick} == {1, 256, 4096, 32768}
    assert all(c.residual == (c.op == "fused_add_rms_norm") for c in quick)
    full = list(sweep.sweep(("bf16",), full=True))
    assert len(full) == 2 * 2 * 2 * 4 * len(sweep.PERF_TOKENS_FULL)
    assert len({c.id for c in full}) == len(full)


def test_parse_peers_keeps_order_and_drops_repeats() -> None:
    assert options.parse_list(" torch-compile, flashinfer,,torch-compile") == ("torch-compile", "flashinfer")
    assert options.parse_list("") == ()


@pytest.mark.parametrize("bad", ["0", "-1", "fast", "nan"])
def test_min_speedup_must_be_a_positive_number(bad: str) -> None:
    with pytest.raises(pytest.UsageError, match="positive number"):
        options.parse_min_speedup(bad)
    assert options.parse_min_speedup("1.25") == 1.25


def test_case_bytes_counts_each_stream_once() -> None:
    assert verdict.case_bytes(CASE) == 4 * 1024 * 4096 * 2 + 4096 * 2
    plain = Case("rms_norm", "fp16", "fp32", 0.0, 1, 8192, 1e-6)
    assert verdict.case_bytes(plain) == 2 * 8192 * 2 + 8192 * 4


def test_verdict_names_both_timings_and_the_ratio() -> None:
    result = verdict.Comparison(
        timing=_timed(10.5, 11.5, 11.0),
        rivals={"reference": _timed(40.0), "torch-compile": _timed(10.0)},
        declined={"flashinfer": "fp32 weight"},
        min_speedup=1.0,
    )
    assert result.speedups() == pytest.approx({"reference": 40 / 11, "torch-compile": 10 / 11})
    assert result.problems("triton") == [
        "triton 11.00 us vs torch-compile 10.00 us: speedup 0.909x < 1.00x beyond the medians' intervals "
        "(IQR/median: triton 4.5%, torch-compile 0.0%)"
    ]
    metrics = result.metrics(CASE, copy_gbps=3000.0)
    assert metrics["us"] == pytest.approx(11.0)
    assert metrics["gbps"] == pytest.approx(verdict.case_bytes(CASE) / 11e-6 / 1e9)
    assert metrics["reference_us"] == pytest.approx(40.0)
    assert (metrics["us_iqr"], metrics["torch-compile_us_iqr"]) == pytest.approx((0.5, 0.0))  # each side's spread
    assert metrics["flashinfer_declined"] == "fp32 weight"
    lenient = verdict.Comparison(result.timing, result.rivals, {}, min_speedup=0.9)
    assert lenient.problems("triton") == []


def _spread(width: float) -> list[float]:
    """Relative deviations evenly over +-width, in a scrambled order, one per repeat."""
    n = timing.REPEATS
    return [width * (2 * ((7 * i) % n) / (n - 1) - 1) for i in range(n)]


def test_a_gap_inside_the_medians_intervals_is_a_tie_and_passes() -> None:
    """Two kernels at the same roofline: 0.2 % apart with 0.5 % spread over 15 repeats."""
    mine = _timed(*(721.4 * (1 + d) for d in _spread(0.005)))
    rival = _timed(*(720.0 * (1 + d) for d in _spread(0.005)))
    result = verdict.Comparison(mine, {"flashinfer": rival}, {}, min_speedup=1.0)
    assert result.speedups()["flashinfer"] < 1.0
    assert result.short_of() == {"flashinfer": False} and result.problems("triton") == []
    assert "within the medians' intervals" in result.metrics(CASE, 3000.0)["tie_with_flashinfer"]


def test_a_gap_beyond_the_medians_intervals_fails_even_when_small() -> None:
    """2.5 % slower with 0.1 % spread: a real gap, however small the ratio's shortfall."""
    mine = _timed(*(738.0 * (1 + d) for d in _spread(0.001)))
    rival = _timed(*(720.0 * (1 + d) for d in _spread(0.001)))
    result = verdict.Comparison(mine, {"flashinfer": rival}, {}, min_speedup=1.0)
    assert result.short_of() == {"flashinfer": True}
    [problem] = result.problems("triton")
    assert problem.startswith("triton 738.00 us vs flashinfer 720.00 us: speedup 0.976x < 1.00x")
    assert "tie_with_flashinfer" not in result.metrics(CASE, 3000.0)


def test_one_kernel_prepared_twice_ties_with_itself() -> None:
    """Twins on the H200: up to 1.83 % apart, each with 0.1 % spread; one preparation's repeats hide
    what a second preparation moves the median by, so the interval has a floor."""
    mine = _timed(*(733.2 * (1 + d) for d in _spread(0.001)))
    twin = _timed(*(720.0 * (1 + d) for d in _spread(0.001)))
    result = verdict.Comparison(mine, {"triton-twin": twin}, {}, min_speedup=1.0)
    assert result.speedups()["triton-twin"] == pytest.approx(0.9820, abs=1e-4)
    assert result.short_of() == {"triton-twin": False} and result.problems("triton") == []


def test_twin_peers_are_the_shipped_candidates_under_their_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/twin_peer.py: a kernel checked against a second preparation of itself."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    for twin, original in (("twin_peer:Twin", "triton"), ("twin_peer:CompileTwin", "torch-compile")):
        peer, shipped = load_candidate(twin), load_candidate(original)
        assert isinstance(peer.obj, type(shipped.obj)) and peer.name == f"{original}-twin"


def test_cute_dsl_peers_load_and_say_why_they_decline_where_their_kernels_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """benchmarks/quack_peer.py and flashinfer_cute_peer.py: QuACK's and FlashInfer's CuTe-DSL norms
    load anywhere and decline with a reason where their packages or a CUDA device are missing."""
    import importlib.util

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    case = Case("rms_norm", "bf16", "bf16", 0.0, 16, 4096, 1e-6)
    for spec, name in (("quack_peer:Quack", "quack"), ("flashinfer_cute_peer:FlashInferCute", "flashinfer-cute")):
        peer = load_candidate(spec)
        assert peer.name == name and callable(peer.method("rms_norm")) and callable(peer.method("fused_add_rms_norm"))
        if torch.cuda.is_available() and importlib.util.find_spec("cutlass") is not None:
            continue
        why = peer.declines(case)
        assert isinstance(why, str) and why, spec


def test_quack_peer_declines_odd_rows_of_a_two_byte_x(monkeypatch: pytest.MonkeyPatch) -> None:
    """QuACK's rmsnorm_fwd raised an empty DSLRuntimeError at every odd H with bf16 or fp16 x on the
    H200: the peer declines those cases with the reason, and leaves the rest to its other checks."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    peer = load_candidate("quack_peer:Quack")
    for dtype, op in (("bf16", "rms_norm"), ("fp16", "fused_add_rms_norm")):
        why = peer.declines(Case(op, dtype, "fp32", 1.0, 4096, 5125, 1e-6, residual=op != "rms_norm"))
        assert isinstance(why, str) and "odd H" in why
    for dtype, hidden in (("fp32", 5125), ("bf16", 5120)):
        why = peer.declines(Case("rms_norm", dtype, dtype, 0.0, 16, hidden, 1e-6))
        assert why is None or "odd H" not in why


def test_median_interval_is_the_box_plot_notch() -> None:
    summary = stats.summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    low, high = stats.median_interval(summary)
    assert (low, high) == pytest.approx((3.0 - 1.57 * 2.0 / 5**0.5, 3.0 + 1.57 * 2.0 / 5**0.5))


def test_median_interval_is_never_narrower_than_the_preparation_spread() -> None:
    low, high = stats.median_interval(stats.summarize([100.0] * 15))
    assert (low, high) == pytest.approx(
        (100.0 * (1 - stats.PREPARATION_SPREAD), 100.0 * (1 + stats.PREPARATION_SPREAD))
    )


def test_compare_alternates_candidate_and_rivals_and_records_broken_ones(monkeypatch) -> None:
    """The candidate and every rival that takes the case are sampled in alternating blocks;
    a rival that raises while warming up is declined, not fatal."""
    log: list[str] = []
    seconds = {"triton": 2e-6, "reference": 8e-6, "torch-compile": 3e-6}

    class Logged(timing.Prepared):
        def __init__(self, name: str) -> None:
            super().__init__(run=lambda: None, mode="cuda-graph", sets=2, calls_per_sample=8)
            self.name = name

        def sample(self) -> float:
            log.append(self.name)
            return seconds[self.name]

    def prepare(candidate, case, device, seed):
        if candidate.name == "raises":
            raise RuntimeError("no kernel for sm_90\nmore detail")
        return Logged(candidate.name)

    monkeypatch.setattr(sweep, "prepare", prepare)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    broken = load_candidate("tests.broken:Raises")
    monkeypatch.setattr(sweep, "cached_candidate", lambda spec: broken if spec == "raises" else load_candidate(spec))
    candidate = load_candidate("triton")
    case = Case("rms_norm", "bf16", "bf16", 1.0, 1024, 4096, 1e-6)
    result = sweep.time_against(candidate, case, ["torch-compile", "raises"], "cuda", 0, 1.0)
    per_block = -(-timing.REPEATS // timing.BLOCKS)
    forward = [n for n in ("triton", "reference", "torch-compile") for _ in range(per_block)]
    assert log == forward + forward[::-1] + forward
    assert result.speedups() == pytest.approx({"reference": 4.0, "torch-compile": 1.5})
    assert result.declined == {"raises": "raised RuntimeError: no kernel for sm_90"}
    assert result.problems("triton") == []


class _FakeBenchmark:
    """The parts of pytest-benchmark's fixture that store_in_benchmark uses."""

    def __init__(self) -> None:
        self.extra_info: dict = {}
        self.disabled = False
        self.rounds: list[float] = []
        self._mode = None

    def _make_stats(self, iterations: int):
        assert iterations == 1
        outer = self

        class Stats:
            def update(self, duration: float) -> None:
                outer.rounds.append(duration)

        return Stats()


def test_samples_become_pytest_benchmark_rounds() -> None:
    bench = _FakeBenchmark()
    timed = _timed(2.0, 3.0)
    benchmark.store_in_benchmark(bench, timed, {"us": 2.5})
    assert bench.rounds == timed.samples
    assert bench.extra_info == {"us": 2.5, "samples_s": timed.samples}
    assert bench._mode


_BENCHMARKED_TEST = """
from pytest_normfusion.perf import benchmark as bridge, timing

def test_timed(request):
    benchmark = bridge.benchmark_fixture(request)
    assert benchmark is not None
    benchmark.group = "rms_norm-bf16-H4096"
    bridge.store_in_benchmark(benchmark, timing.Timing([2e-6, 3e-6, 4e-6], "cuda-graph", 2, 64), {"us": 3.0})
"""


def test_samples_land_in_pytest_benchmark_json(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real plugin (not a fake) stores our CUDA-event samples as its rounds, and --benchmark-json writes them."""
    pytest.importorskip("pytest_benchmark")
    # under xdist the subprocess would inherit the worker's id, and pytest-benchmark disables itself on it
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_timed=_BENCHMARKED_TEST)
    out = pytester.path / "bench.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--benchmark-json={out}")
    result.assert_outcomes(passed=1)
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert bench["group"] == "rms_norm-bf16-H4096"
    assert bench["stats"]["rounds"] == 3
    assert bench["stats"]["median"] == pytest.approx(3e-6)
    assert bench["extra_info"] == {"us": 3.0, "samples_s": [2e-6, 3e-6, 4e-6]}


def test_no_benchmark_fixture_when_benchmarks_are_skipped(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile(
        test_skipped="""
from pytest_normfusion.perf import benchmark

def test_none(request):
    assert benchmark.benchmark_fixture(request) is None
"""
    )
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-skip").ret == 0
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark").ret == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the perf checks run")
def test_perf_suite_skips_with_a_reason_without_cuda(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "-m", "perf", "--normfusion-impl=reference", "--normfusion-perf-peers=triton"
    )
    result.assert_outcomes(skipped=2)  # the norm and the all-reduce checks
    result.stdout.fnmatch_lines(["*perf checks time CUDA-graph replays with CUDA events: no CUDA device*"])


def test_bad_min_speedup_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--normfusion-min-speedup=fast")
    result.stderr.fnmatch_lines(["*--normfusion-min-speedup: expected a positive number such as 1.0, got 'fast'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_perf_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.perf: GPU speed checks*"])


def test_allreduce_sweep_needs_two_ranks() -> None:
    cases = list(allreduce.sweep(("bf16", "fp32"), (1, 2, 4), full=False))
    assert {c.world_size for c in cases} == {2, 4}
    assert {c.dtype for c in cases} == {"bf16"}
    assert all(c.residual and c.weight == c.dtype and c.op == "allreduce_rms_norm" for c in cases)
    assert len(cases) == 2 * 2 * len(allreduce.PERF_AR_HIDDEN) * len(allreduce.PERF_AR_TOKENS_QUICK)
    assert list(allreduce.sweep(("bf16",), (1,), full=True)) == []


def test_unfused_side_uses_the_candidates_own_fused_add_when_it_takes_the_case() -> None:
    case = Case("allreduce_rms_norm", "bf16", "bf16", 0.0, 16, 4096, 1e-6, residual=True, world_size=2)
    reference = load_candidate("reference")
    fallback = load_candidate("torch-compile")
    assert allreduce.unfused_norm(reference, case, fallback) is reference
    flashinfer = load_candidate("flashinfer")  # declines everything without CUDA
    assert allreduce.unfused_norm(flashinfer, case, fallback) is (
        flashinfer if flashinfer.declines(case) is None else fallback
    )


def _summary(us: float, iqr_us: float = 0.0) -> dict[str, float]:
    return {"median": us * 1e-6, "low": us * 1e-6, "high": us * 1e-6, "iqr": iqr_us * 1e-6, "n": 15}


def test_allreduce_verdict_takes_the_slowest_rank_of_each_side() -> None:
    ranks = [
        {
            "fused": _summary(4.0),
            "unfused": _summary(9.0),
            "fused_mode": "cuda-graph",
            "unfused_mode": "cuda-graph",
            "notes": [],
        },
        {
            "fused": _summary(5.0),
            "unfused": _summary(8.0),
            "fused_mode": "cuda-graph",
            "unfused_mode": "cuda-graph",
            "notes": [],
        },
    ]
    for r in ranks:
        r["unfused_norm"] = "flashinfer"
    problems, metrics = verdict.allreduce_verdict("flashinfer", ranks, 1.0)
    assert problems == [] and metrics["us"] == 5.0 and metrics["unfused_us"] == 9.0
    assert metrics["speedup_vs_unfused"] == pytest.approx(1.8)
    problems, _ = verdict.allreduce_verdict("flashinfer", ranks, 2.0)
    assert problems == [
        "flashinfer fused 5.00 us vs all_reduce + flashinfer 9.00 us: speedup 1.80x < 2.00x beyond the medians' intervals"
    ]


def test_allreduce_verdict_counts_a_near_tie_as_a_tie() -> None:
    """One tie rule for both verdicts: a fused side 1% short with 5% spread is a tie, recorded as one."""
    ranks = [
        {"fused": _summary(10.1, 0.5), "unfused": _summary(10.0, 0.5), "fused_mode": "cuda-graph",
         "unfused_mode": "cuda-graph", "notes": [], "unfused_norm": "flashinfer"},
    ]  # fmt: skip
    problems, metrics = verdict.allreduce_verdict("flashinfer", ranks, 1.0)
    assert problems == [] and "tie_with_unfused" in metrics
