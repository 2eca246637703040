"""Per-case records gathered on the controller, and the terminal summary table."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

STATUS_COLUMNS = ("passed", "failed", "silent-wrong", "error", "timeout", "skipped")


def record_of(report: pytest.TestReport) -> dict[str, Any] | None:
    """The normfusion record a test attached, with pytest's outcome where the test never settled."""
    for name, value in report.user_properties:
        if name == "normfusion":
            rec = dict(value)
            if report.failed and rec.get("status") == "passed":
                rec["status"] = "failed"  # failed after settling, e.g. in teardown
            return rec
    return None


class Results:
    """Collects one record per case from the reports (xdist workers' included)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            rec = record_of(report)
            if rec is not None:
                self.records.append(rec)

    def pool_lines(self) -> list[str]:
        """Per world size: pool spawns (and their seconds), cases, median dispatch overhead per case."""
        spawns: dict[int, list[float]] = defaultdict(list)
        dispatch: dict[int, list[float]] = defaultdict(list)
        for rec in self.records:
            if "dispatch_ms" in rec:
                dispatch[rec["world_size"]].append(rec["dispatch_ms"])
            if "pool_spawn_s" in rec:
                spawns[rec["world_size"]].append(rec["pool_spawn_s"])
        lines = []
        for ws in sorted(dispatch):
            ms = sorted(dispatch[ws])
            started = ", ".join(f"{s:g} s" for s in spawns[ws])
            lines.append(
                f"rank pool ws{ws}: {len(spawns[ws])} spawn(s) ({started or 'before the first recorded case'}), "
                f"{len(ms)} cases, dispatch overhead median {ms[len(ms) // 2]:.2f} ms, max {ms[-1]:.2f} ms"
            )
        return lines

    def table(self) -> list[str]:
        """Per impl: op x dtype x weight dtype x weight_bias (x world size) counts and profiles."""
        groups: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
        profiles: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        for rec in self.records:
            key = (rec["impl"], rec["op"], rec.get("world_size", 1), rec["dtype"], rec["weight"], rec["weight_bias"])
            groups[key][rec["status"]] += 1
            if rec.get("profile"):
                profiles[key].add(rec["profile"])
        lines = []
        header = (
            f"{'op':<20} {'ws':>2} {'dtype':<5} {'weight':<6} {'bias':>4} "
            + " ".join(f"{c:>{max(6, len(c))}}" for c in STATUS_COLUMNS)
            + "  profile"
        )
        impl = None
        for key in sorted(groups):
            if key[0] != impl:
                impl = key[0]
                lines += [f"impl {impl}", header]
            _, op, ws, dtype, weight, bias = key
            counts = " ".join(f"{groups[key][c]:>{max(6, len(c))}}" for c in STATUS_COLUMNS)
            lines.append(
                f"{op:<20} {ws:>2} {dtype:<5} {weight:<6} {bias:>4g} {counts}  {','.join(sorted(profiles[key])) or '-'}"
            )
        return lines
