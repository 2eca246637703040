"""Perf verdicts: ratios of medians timed in one run, with one tie rule (``stats.shortfall``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_normfusion.core.case import Case
from pytest_normfusion.perf import timing
from pytest_normfusion.perf.stats import Summary, norm_bytes, shortfall


def case_bytes(case: Case) -> int:
    """Bytes the op must move (each input read once, each output written once)."""
    return norm_bytes(case.tokens, case.hidden, case.itemsize, case.weight_itemsize, case.residual)


def _spread(summary: Summary) -> float:
    return summary.iqr / summary.median


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
        """Rivals the candidate is not ``min_speedup`` times faster than -> whether that holds beyond
        the medians' intervals (True: a real gap; False: a tie)."""
        found = {name: shortfall(self.timing.summary, t.summary, self.min_speedup) for name, t in self.rivals.items()}
        return {name: short for name, short in found.items() if short is not None}

    def problems(self, name: str) -> list[str]:
        """One line per rival the candidate is short of beyond the noise, with each side's spread (IQR / median)."""
        mine = self.timing.summary
        return [
            f"{name} {mine.median * 1e6:.2f} us vs {rival} {self.rivals[rival].summary.median * 1e6:.2f} us: "
            f"speedup {self.speedups()[rival]:.3f}x < {self.min_speedup:.2f}x beyond the medians' intervals "
            f"(IQR/median: {name} {_spread(mine):.1%}, {rival} {_spread(self.rivals[rival].summary):.1%})"
            for rival, real in self.short_of().items()
            if real
        ]

    def metrics(self, case: Case, copy_gbps: float) -> dict[str, Any]:
        """Plain data for the suite's record and pytest-benchmark's extra_info."""
        out = self.timing.record(case_bytes(case), copy_gbps)
        for rival, t in self.rivals.items():
            out[f"{rival}_us"] = t.summary.median * 1e6
            out[f"{rival}_us_iqr"] = t.summary.iqr * 1e6
            out[f"speedup_vs_{rival}"] = self.speedups()[rival]
        for rival, real in self.short_of().items():
            if not real:
                out[f"tie_with_{rival}"] = f"speedup {self.speedups()[rival]:.4f}x, within the medians' intervals"
        for rival, why in self.declined.items():
            out[f"{rival}_declined"] = why
        return out


def allreduce_verdict(name: str, ranks: list[dict[str, Any]], min_speedup: float) -> tuple[list[str], dict[str, Any]]:
    """Problems and metrics from every rank's timings: each side is its slowest rank's, judged by the
    same tie rule as the single-device checks."""
    fused = max((Summary(**r["fused"]) for r in ranks), key=lambda s: s.median)
    unfused = max((Summary(**r["unfused"]) for r in ranks), key=lambda s: s.median)
    speedup = unfused.median / fused.median
    metrics: dict[str, Any] = {
        "us": fused.median * 1e6,
        "unfused_us": unfused.median * 1e6,
        "speedup_vs_unfused": speedup,
        "unfused_norm": ranks[0]["unfused_norm"],
        "timing_mode": ranks[0]["fused_mode"],
        "unfused_timing_mode": ranks[0]["unfused_mode"],
    }
    notes = sorted({n for r in ranks for n in r["notes"]})
    if notes:
        metrics["timing_note"] = "; ".join(notes)
    short = shortfall(fused, unfused, min_speedup)
    if short is False:
        metrics["tie_with_unfused"] = f"speedup {speedup:.4f}x, within the medians' intervals"
    problems = []
    if short:
        problems.append(
            f"{name} fused {fused.median * 1e6:.2f} us vs all_reduce + {metrics['unfused_norm']} "
            f"{unfused.median * 1e6:.2f} us: speedup {speedup:.2f}x < {min_speedup:.2f}x beyond the medians' intervals"
        )
    return problems, metrics
